"""Dynamic batching of concurrent requests: one model call for everything that arrived while the last one ran.

A model call has a fixed cost (~ms) that dwarfs the per-row cost, so under concurrency the requests waiting in
one worker are scored together in a worker thread (the event loop keeps parsing and validating new requests
meanwhile). A record's result does not depend on the batch it is in (every row is scored independently). The same
thread hands the batch's prediction-log lines to the log writer (``log``,
:meth:`laip.api.predlog.PredictionLog.submit`), which releases the requests once the lines are durable; the next
batch is scored meanwhile.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

from laip.api.predlog import settle

LogLines = Callable[[list[dict]], list[dict]]  # a request's outputs -> its prediction-log lines
Job = tuple[Any, list[dict], LogLines, asyncio.Future]


class Batcher:
    def __init__(self, log: Callable[..., None], max_records: int = 2000):
        self.max_records = max_records
        self.log = log
        self._pending: list[Job] = []
        self._running = False

    async def predict(self, champion: Any, records: list[dict], log_lines: LogLines) -> list[dict]:
        """``champion.predict(records)``, possibly batched with other requests of this process; the lines
        ``log_lines`` makes of the outputs are durably logged (``log``,
        :meth:`laip.api.predlog.PredictionLog.submit`) before this returns."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((champion, records, log_lines, future))
        if not self._running:
            self._running = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    def _take(self) -> list[Job]:
        """The next batch: pending requests for the same champion, up to ``max_records`` (at least one)."""
        first = self._pending[0][0]
        batch: list[Job] = []
        rest: list[Job] = []
        size = 0
        for item in self._pending:
            if item[0] is first and (not batch or size + len(item[1]) <= self.max_records):
                batch.append(item)
                size += len(item[1])
            else:
                rest.append(item)
        self._pending = rest
        return batch

    def _score(self, batch: list[Job], loop: asyncio.AbstractEventLoop) -> None:
        """In the worker thread: one model call for the batch; its requests are released (on ``loop``) when their
        log lines are durable."""
        outputs = batch[0][0].predict([r for _, recs, _, _ in batch for r in recs])
        start, lines = 0, []
        released: list[tuple[asyncio.Future, list[dict]]] = []
        for _, recs, log_lines, fut in batch:
            mine = outputs[start : start + len(recs)]
            start += len(recs)
            lines.extend(log_lines(mine))
            released.append((fut, mine))
        self.log(lines, loop, functools.partial(_release, released))

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch = self._take()
                try:
                    await asyncio.to_thread(self._score, batch, loop)
                except Exception as exc:
                    for *_, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
        finally:
            self._running = False


def _release(released: list[tuple[asyncio.Future, list[dict]]], error: BaseException | None) -> None:
    for fut, result in released:
        settle(fut, error, result)
