"""One writer at a time for the warehouse, enforced by the operating system (not only by Airflow's pool).

Every step that writes the working warehouse or swaps a file beside it (load, the dbt build, certify, train,
score, insights, monitor, publish) holds an exclusive ``flock`` on ``<warehouse>.lock`` for the whole step. A
second writer (another ``laip`` command, a DAG run, the Cosmos dbt task through ``laip-dbt``) waits up to
``writer_wait_seconds`` (laip.yaml ``warehouse:``, env ``LAIP_WRITER_WAIT_SECONDS``), then fails with one line naming
the holder. The lock file records the holder (pid, step, since); the kernel releases the lock when its process
ends, however it ends, so a crash never leaves a stale lock. Re-entrant within a process (a step that calls another).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

WAIT_ENV = "LAIP_WRITER_WAIT_SECONDS"
DEFAULT_WAIT_SECONDS = 600.0

_held: dict[Path, int] = {}  # lock file -> depth, for this process
_guard = threading.Lock()


class WriterBusy(RuntimeError):
    """Another process holds the warehouse's writer lock (longer than this one may wait)."""


def lock_path(warehouse: Path) -> Path:
    return Path(warehouse).with_name(Path(warehouse).name + ".lock")


def holder(warehouse: Path) -> str:
    """Who holds (or last held) the lock, as recorded in the lock file."""
    try:
        info = json.loads(lock_path(warehouse).read_text() or "{}")
    except (OSError, ValueError):
        return "another process"
    if not info:
        return "another process"
    return f"`{info.get('step')}` (pid {info.get('pid')} on {info.get('host')}, since {info.get('since')})"


def wait_seconds(configured: float | None = None) -> float:
    env = os.environ.get(WAIT_ENV)
    return float(env) if env else configured if configured is not None else DEFAULT_WAIT_SECONDS


@contextlib.contextmanager
def warehouse_writer(warehouse: Path, step: str, wait_s: float | None = None) -> Iterator[None]:
    """Hold the warehouse's writer lock for the block; :class:`WriterBusy` after ``wait_s`` seconds of waiting."""
    path = lock_path(warehouse).resolve()
    with _guard:
        depth = _held.get(path, 0)
        if depth:
            _held[path] = depth + 1
    if depth:
        try:
            yield
        finally:
            with _guard:
                _held[path] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_seconds(wait_s)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WriterBusy(
                        f"{step}: the warehouse {warehouse} is being written by {holder(warehouse)}; gave up after "
                        f"waiting {wait_seconds(wait_s):.0f} s (set {WAIT_ENV} to wait longer)"
                    ) from None
                time.sleep(0.2)
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "step": step,
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        with _guard:
            _held[path] = 1
        try:
            yield
        finally:
            with _guard:
                _held.pop(path, None)
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing the descriptor releases the flock
