"""Dynamic batching of concurrent requests: one model call for everything that arrived while the last one ran.

A model call has a fixed cost (~ms) that dwarfs the per-row cost, so under concurrency the requests waiting in
one worker are scored together in a worker thread (the event loop keeps parsing and validating new requests
meanwhile). A record's result does not depend on the batch it is in (every row is scored independently).
"""

from __future__ import annotations

import asyncio
from typing import Any


class Batcher:
    def __init__(self, max_records: int = 2000):
        self.max_records = max_records
        self._pending: list[tuple[Any, list[dict], asyncio.Future]] = []
        self._running = False

    async def predict(self, champion: Any, records: list[dict]) -> list[dict]:
        """``champion.predict(records)``, possibly batched with other requests of this process."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((champion, records, future))
        if not self._running:
            self._running = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    def _take(self) -> list[tuple[Any, list[dict], asyncio.Future]]:
        """The next batch: pending requests for the same champion, up to ``max_records`` (at least one)."""
        first = self._pending[0][0]
        batch, rest, size = [], [], 0
        for item in self._pending:
            if item[0] is first and (not batch or size + len(item[1]) <= self.max_records):
                batch.append(item)
                size += len(item[1])
            else:
                rest.append(item)
        self._pending = rest
        return batch

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._take()
                champion = batch[0][0]
                records = [r for _, recs, _ in batch for r in recs]
                try:
                    outputs = await asyncio.to_thread(champion.predict, records)
                except Exception as exc:  # noqa: BLE001 - handed to every waiting request
                    for _, _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                start = 0
                for _, recs, fut in batch:
                    if not fut.done():
                        fut.set_result(outputs[start:start + len(recs)])
                    start += len(recs)
        finally:
            self._running = False
