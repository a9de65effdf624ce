"""A hostile client cannot hold the API: a request head or body that never comes gets 408 and the connection is
closed, an oversized head 431, and with a per-client rate limit a flood gets 429 with Retry-After. Real
``laip serve`` on loopback (no champion needed: the limits act before any endpoint)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support.api_server import Server

from laip.config import CONFIG_FILE

LIMITS = {
    "head_timeout_seconds": 1,
    "body_timeout_seconds": 1,
    "max_head_bytes": 4096,
    "rate_limit_per_second": 2,
    "rate_limit_burst": 4,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("api-limits")
    config = yaml.safe_load(CONFIG_FILE.read_text())
    config["api"].update(LIMITS)
    (root / "laip.yaml").write_text(yaml.safe_dump(config))
    (root / "home").mkdir()
    started = Server(root / "home", env={"LAIP_CONFIG": str(root / "laip.yaml")})
    yield started
    started.kill()


def _exchange(server: Server, *parts: bytes, pause: float = 0.0, wait: float = 10.0) -> tuple[bytes, float]:
    """Send ``parts`` (``pause`` s apart), then read until the server closes; (what came back, seconds taken)."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as sock:
        for part in parts:
            try:
                sock.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                break  # the server closed the connection: read what it said
            time.sleep(pause)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return received, time.monotonic() - start


def test_a_head_that_never_ends_gets_408(server: Server) -> None:
    answer, seconds = _exchange(server, b"POST /predict HTTP/1.1\r\nHost: x\r\n")
    assert answer.startswith(b"HTTP/1.1 408") and seconds < 5, (answer, seconds)
    answer, seconds = _exchange(server)  # a connection that sends nothing
    assert answer.startswith(b"HTTP/1.1 408") and seconds < 5, (answer, seconds)


def test_a_head_trickled_byte_by_byte_is_cut_off(server: Server) -> None:
    head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100  # 5 s at this pace
    answer, seconds = _exchange(server, *[bytes([b]) for b in head], pause=0.04)
    assert answer.startswith(b"HTTP/1.1 408") and seconds < 3, (answer, seconds)


def test_a_body_that_never_comes_gets_408(server: Server) -> None:
    head = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    answer, seconds = _exchange(server, head + b'{"a": ')
    assert answer.startswith(b"HTTP/1.1 408") and seconds < 5, (answer, seconds)


def test_an_oversized_head_gets_431(server: Server) -> None:
    big = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(100))
    answer, _ = _exchange(server, big + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    # one header value that never ends: httptools would buffer it without limit
    answer, _ = _exchange(server, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 200_000)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]


def test_a_flood_from_one_client_gets_429_then_recovers(server: Server) -> None:
    time.sleep(2.5)  # a full bucket
    statuses, retry_after = [], None
    for _ in range(10):
        answer, _ = _exchange(server, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        statuses.append(int(answer[9:12]))
        if statuses[-1] == 429:
            retry_after = next(
                line.split(b":")[1].strip() for line in answer.split(b"\r\n") if line.lower().startswith(b"retry-after")
            )
    assert statuses[:4] == [503] * 4 and 429 in statuses[4:], statuses  # no champion here: 503 when let through
    assert retry_after is not None and int(retry_after) >= 1
    time.sleep(1.5)
    answer, _ = _exchange(server, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 503"), answer[:100]


def test_a_prompt_client_is_not_affected(server: Server, tmp_path: Path) -> None:
    time.sleep(2.5)
    answer, seconds = _exchange(server, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 503") and b"no champion" in answer and seconds < 2, answer[:300]
