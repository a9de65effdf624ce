"""Append-only prediction log of the API: JSON lines, fsync'ed before the response is sent (group commit).

The format (file layout, one line per scored record or rejected request) and the reader are in
:mod:`laip.ml.monitoring.prediction_log`.

Durability: a line is written, flushed and ``fsync``ed before the request it belongs to is answered. A single
writer thread takes every pending line at once, writes and fsyncs them, and only then releases the requests waiting
on them (group commit: one fsync per batch of concurrent requests). Predictions are queued by the scoring thread
right after their batch is scored (:meth:`PredictionLog.submit`), so the next batch is scored while this one is
fsync'ed. After a crash the last line of a file may be torn;
:func:`~laip.ml.monitoring.prediction_log.read_prediction_log` skips lines that are not complete JSON objects.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from laip.durable import fsync_dir
from laip.ml.monitoring.prediction_log import encode, part_path

log = logging.getLogger(__name__)


class PredictionLog:
    """Group-commit writer of one process: ``await log.append(lines)`` returns once the lines are fsync'ed;
    :meth:`PredictionLog.submit` queues lines from any thread with a callback."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.started = int(time.time())
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._files: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, name="prediction-log-writer", daemon=True)
        self._thread.start()

    def path_for(self, date: str) -> Path:
        return part_path(self.directory, date, os.getpid(), self.started)

    async def append(self, records: Iterable[dict[str, Any]]) -> None:
        """Queue the records and wait until they are durably written (raises if the write failed)."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self.submit(records, loop, functools.partial(settle, done))
        await done

    def submit(
        self,
        records: Iterable[dict[str, Any]],
        loop: asyncio.AbstractEventLoop,
        callback: Callable[[BaseException | None], None],
    ) -> None:
        """Queue the records (from any thread); once they are durably written, or the write failed,
        ``callback(error or None)`` runs on ``loop``."""
        self._queue.put((_lines(records), loop, callback))

    def close(self, timeout: float = 10.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    # --- writer thread ---
    def _file(self, date: str):
        f = self._files.get(date)
        if f is None:
            path = self.path_for(date)
            path.parent.mkdir(parents=True, exist_ok=True)
            f = path.open("ab", buffering=0)
            fsync_dir(path.parent)
            fsync_dir(path.parent.parent)
            self._files[date] = f
        return f

    def _write(self, lines: list[tuple[str, bytes]]) -> None:
        by_date: dict[str, list[bytes]] = {}
        for date, line in lines:
            by_date.setdefault(date, []).append(line)
        for date, day_lines in by_date.items():
            f = self._file(date)
            data = b"".join(day_lines)
            while data:
                data = data[f.write(data) :]
            os.fsync(f.fileno())

    def _run(self) -> None:
        """The writer thread: group commit of everything queued while the last write ran."""
        stop = False
        while not stop:
            items = [self._queue.get()]
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if None in items:
                stop = True
                items = [i for i in items if i is not None]
            error: BaseException | None = None
            try:
                self._write([line for lines, _, _ in items for line in lines])
            except BaseException as exc:
                log.exception("prediction log write failed")
                error = exc
            for _, loop, callback in items:
                loop.call_soon_threadsafe(callback, error)
        for f in self._files.values():
            f.close()


def _lines(records: Iterable[dict[str, Any]]) -> list[tuple[str, bytes]]:
    """(UTC date, encoded line) of each record."""
    return [(r["ts"][:10], encode(r)) for r in records]


def settle(fut: asyncio.Future, error: BaseException | None, result: Any = None) -> None:
    """Complete ``fut`` with ``result``, or with the write error."""
    if fut.done():
        return
    if error is None:
        fut.set_result(result)
    else:
        fut.set_exception(RuntimeError(f"prediction log write failed: {error}"))


def now_iso() -> str:
    return datetime.now(UTC).isoformat()
