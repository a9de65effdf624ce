"""A minimal asyncio HTTP/1.1 load generator for loopback (cheap next to the server on the same 2 cores): closed loop
(clients back to back), open loop (requests due at a fixed rate, latency from the due time) and sequential."""

from __future__ import annotations

import asyncio
import re
import time

import numpy as np

CONTENT_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


def http_request(path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> tuple[int, bytes]:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    length = CONTENT_LENGTH.search(head)
    if length is None:
        raise RuntimeError(f"response without content-length: {head[:200]!r}")
    body = await reader.readexactly(int(length.group(1)))
    return int(head[9:12]), body


async def closed_loop(port: int, requests: list[bytes], concurrency: int, warmup_s: float, seconds: float):
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    measure_from, stop_at = start + warmup_s, start + warmup_s + seconds

    async def client(k: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = k
        while (now := time.perf_counter()) < stop_at:
            status, _ = await exchange(reader, writer, requests[i % len(requests)])
            done = time.perf_counter()
            if now >= measure_from:
                latencies.append(done - now)
                errors += status != 200
            i += concurrency
        writer.close()

    await asyncio.gather(*(client(k) for k in range(concurrency)))
    return np.array(latencies) * 1000, errors, seconds


async def open_loop(
    port: int, requests: list[bytes], rate: float, warmup_s: float, seconds: float, connections: int = 32
):
    """Open-loop load: request i is due at ``start + i / rate`` whatever the server does; its latency is measured
    from that due time (no coordinated omission), over a pool of keep-alive connections."""
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    measure_from = start + warmup_s
    total = int(rate * (warmup_s + seconds))

    async def one(i: int, due: float) -> None:
        nonlocal errors
        conn = await pool.get()
        status, _ = await exchange(conn[0], conn[1], requests[i % len(requests)])
        pool.put_nowait(conn)
        if due >= measure_from:
            latencies.append(time.perf_counter() - due)
            errors += status != 200

    tasks = []
    for i in range(total):
        due = start + i / rate
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - measure_from
    while not pool.empty():
        pool.get_nowait()[1].close()
    return np.array(latencies) * 1000, errors, elapsed


async def sequential(port: int, requests: list[bytes]) -> float:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start = time.perf_counter()
    for raw in requests:
        status, body = await exchange(reader, writer, raw)
        if status != 200:
            raise RuntimeError(f"batch request failed ({status}): {body[:300]!r}")
    elapsed = time.perf_counter() - start
    writer.close()
    return elapsed
