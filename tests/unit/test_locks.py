"""One warehouse writer at a time, enforced by an OS lock: a second writer waits a bounded time, then fails with one
line naming the holder; a crashed holder never leaves the lock behind; temporary files belong to one process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from laip.config import Settings
from laip.durable import staging_path
from laip.locks import WAIT_ENV, WriterBusy, holder, lock_path, warehouse_writer

HOLD = """
import sys, time
from pathlib import Path
from laip.locks import warehouse_writer
with warehouse_writer(Path(sys.argv[1]), sys.argv[2]):
    print("held", flush=True)
    sys.stdin.read()          # until the test closes stdin (or kills this process)
"""


class Holder:
    """Another process holding the writer lock of ``warehouse`` as ``step``."""

    def __init__(self, warehouse: Path, step: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(warehouse), step], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "held"

    def release(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)


def test_a_second_writer_fails_naming_the_holder(tmp_path: Path) -> None:
    warehouse = tmp_path / "laip.duckdb"
    other = Holder(warehouse, "dbt build")
    try:
        start = time.monotonic()
        with pytest.raises(WriterBusy) as exc, warehouse_writer(warehouse, "load", wait_s=0.6):
            pass
        assert 0.5 < time.monotonic() - start < 5
        message = str(exc.value)
        assert "\n" not in message and "`dbt build`" in message and f"pid {other.proc.pid}" in message
        assert message.startswith("load: the warehouse") and WAIT_ENV in message
    finally:
        other.release()
    with warehouse_writer(warehouse, "load", wait_s=0):  # free again
        assert "`load`" in holder(warehouse)
    assert oct(lock_path(warehouse).stat().st_mode & 0o777) == "0o600"


def test_a_waiting_writer_gets_the_lock_when_it_is_released(tmp_path: Path) -> None:
    warehouse = tmp_path / "laip.duckdb"
    other = Holder(warehouse, "train")
    start = time.monotonic()
    threading.Timer(1.0, other.release).start()
    with warehouse_writer(warehouse, "score", wait_s=30):
        waited = time.monotonic() - start
    assert 0.8 < waited < 10


def test_a_killed_holder_leaves_no_lock(tmp_path: Path) -> None:
    warehouse = tmp_path / "laip.duckdb"
    other = Holder(warehouse, "load")
    os.kill(other.proc.pid, signal.SIGKILL)
    other.proc.wait(10)
    with warehouse_writer(warehouse, "load", wait_s=1):
        pass


def test_reentrant_within_a_process(tmp_path: Path) -> None:
    warehouse = tmp_path / "laip.duckdb"
    with warehouse_writer(warehouse, "train"), warehouse_writer(warehouse, "monitor", wait_s=0):
        assert "`train`" in holder(warehouse)
    with warehouse_writer(warehouse, "publish", wait_s=0):
        pass


def test_load_and_dbt_wait_for_the_writer_then_fail_clearly(settings: Settings, sample_dir: Path) -> None:
    """`laip load` during a build (and the DAG's dbt during a load) fail with one line; nothing was written."""
    env = {**os.environ, "LAIP_HOME": str(settings.home), WAIT_ENV: "1"}
    other = Holder(settings.warehouse, "dbt build")
    try:
        load = subprocess.run(
            [sys.executable, "-m", "laip", "load", str(sample_dir)], env=env, capture_output=True, text=True
        )
        assert load.returncode == 1 and "`dbt build`" in load.stderr and "Traceback" not in load.stderr
        assert not settings.warehouse.exists() and not list(settings.warehouse.parent.glob("*.loading*"))
        dbt = subprocess.run(
            [str(Path(sys.executable).with_name("laip-dbt")), "build"],
            env={**env, "LAIP_WAREHOUSE": str(settings.warehouse)},
            capture_output=True,
            text=True,
        )
        assert dbt.returncode == 2 and "dbt build (laip-dbt): the warehouse" in dbt.stderr
    finally:
        other.release()


def test_temporary_files_belong_to_one_process(tmp_path: Path) -> None:
    target = tmp_path / "laip.duckdb"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = target.with_name(f"laip.duckdb.loading-{dead.pid}")
    live = target.with_name(f"laip.duckdb.loading-{os.getppid()}")  # a process that still runs
    for path in (stale, stale.with_name(stale.name + ".wal"), live):
        path.write_text("x")
    mine = staging_path(target, "loading")
    assert mine.name == f"laip.duckdb.loading-{os.getpid()}"
    assert not stale.exists() and not stale.with_name(stale.name + ".wal").exists() and live.exists()
