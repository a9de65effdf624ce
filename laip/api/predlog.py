"""Append-only prediction log of the API: JSON lines, fsync'ed before the response is sent (group commit).

Layout: ``<Settings.prediction_log_dir>/date=YYYY-MM-DD/part-<pid>-<start-epoch>.jsonl`` (UTC date of the line;
one file per server process and day, so concurrent workers never share a file).

One line per scored record, and one per rejected request::

    ts                     ISO-8601 UTC timestamp of the request ("2026-11-23T17:20:01.123456+00:00")
    request_id             hex id, also returned in the response body / X-Request-ID header
    endpoint               "/predict" or "/predict/batch" (or the path of a rejected request)
    status                 HTTP status of the request (200; 4xx for rejected requests)
    latency_ms             request start -> scored (excludes the log write itself)
    model_name             algorithm of the champion (lr / rf / hgb); null for rejected requests
    registered_model_name  MLflow registered model; null for rejected requests
    model_version          registered model version (int); null for rejected requests
    record_index           position of the record in a batch (0 for /predict); null for rejected requests
    student_module_id      optional id given by the client (null when not given)
    inputs                 {feature: value} as validated (null = unknown); null for rejected requests
    output                 {probability, risk_band, is_flagged, reasons: [{code, label, contribution}]}; null
                           for rejected requests
    error                  short reason of a rejection (null for predictions)

Durability: a line is written, flushed and ``fsync``ed before the request it belongs to is answered. A single
writer thread takes every pending line at once, writes and fsyncs them, and only then releases the requests waiting
on them (group commit: one fsync per batch of concurrent requests). Predictions are queued by the scoring thread
right after their batch is scored (:meth:`PredictionLog.submit`), so the next batch is scored while this one is
fsync'ed. After a crash the last line of a file may be torn; :func:`read_prediction_log` skips lines that are not
complete JSON objects.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from laip.config import Settings
from laip.durable import fsync_dir

log = logging.getLogger(__name__)

META_COLUMNS = ["ts", "request_id", "endpoint", "status", "latency_ms", "model_name", "registered_model_name",
                "model_version", "record_index", "student_module_id", "error"]
OUTPUT_COLUMNS = ["probability", "risk_band", "is_flagged", "reasons"]


def encode(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, separators=(",", ":"), allow_nan=False, default=str) + "\n").encode()


class PredictionLog:
    """Group-commit writer of one process: ``await log.append(lines)`` returns once the lines are fsync'ed;
    :meth:`submit` queues lines from any thread with a callback."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.started = int(time.time())
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._files: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, name="prediction-log-writer", daemon=True)
        self._thread.start()

    def path_for(self, date: str) -> Path:
        return self.directory / f"date={date}" / f"part-{os.getpid()}-{self.started}.jsonl"

    async def append(self, records: Iterable[dict[str, Any]]) -> None:
        """Queue the records and wait until they are durably written (raises if the write failed)."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self.submit(records, loop, functools.partial(settle, done))
        await done

    def submit(self, records: Iterable[dict[str, Any]], loop: asyncio.AbstractEventLoop,
               callback: Callable[[BaseException | None], None]) -> None:
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
                data = data[f.write(data):]
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
            except BaseException as exc:  # noqa: BLE001 - reported to every waiting request
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
    return datetime.now(timezone.utc).isoformat()


def read_lines(directory: Path) -> tuple[list[dict[str, Any]], int]:
    """Every complete line of every part file, and how many lines were skipped (torn / not JSON)."""
    rows: list[dict[str, Any]] = []
    skipped = 0
    for path in sorted(Path(directory).glob("date=*/part-*.jsonl")):
        with path.open("rb") as f:
            for raw in f:
                if not raw.endswith(b"\n"):
                    skipped += 1          # torn last line of a crashed writer
                    continue
                try:
                    row = json.loads(raw)
                except ValueError:
                    skipped += 1
                    continue
                if isinstance(row, dict) and "request_id" in row:
                    rows.append(row)
                else:
                    skipped += 1
    return rows, skipped


def read_prediction_log(source: Settings | Path, *, features: bool = True) -> pd.DataFrame:
    """The prediction log as a DataFrame: the meta columns (see the module docstring), the output fields
    ``probability``, ``risk_band``, ``is_flagged``, ``reasons`` (list of dicts) and, with ``features``, one column
    per input feature (NaN / None = unknown or a rejected request). ``ts`` is a UTC timestamp. Torn or
    malformed lines are skipped (``df.attrs["skipped_lines"]`` counts them)."""
    rows, skipped = read_lines(source.prediction_log_dir if isinstance(source, Settings) else Path(source))
    meta = pd.DataFrame([{c: r.get(c) for c in META_COLUMNS} for r in rows], columns=META_COLUMNS)
    out = pd.DataFrame([{c: (r.get("output") or {}).get(c) for c in OUTPUT_COLUMNS} for r in rows],
                       columns=OUTPUT_COLUMNS)
    parts = [meta, out]
    if features:
        parts.append(pd.DataFrame([r.get("inputs") or {} for r in rows], index=meta.index))
    df = pd.concat(parts, axis=1)
    df["ts"] = pd.to_datetime(df["ts"], utc=True, format="ISO8601")
    for col in ("status", "model_version", "record_index"):
        df[col] = pd.array(df[col], dtype="Int64")
    df["latency_ms"] = pd.to_numeric(df["latency_ms"], errors="coerce")
    df = df.sort_values(["ts", "request_id", "record_index"], kind="stable", na_position="last").reset_index(drop=True)
    df.attrs["skipped_lines"] = skipped
    return df
