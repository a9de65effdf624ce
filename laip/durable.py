"""Writes that survive a crash: a reader sees the old file or the new one, never a half-written one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

PRIVATE_UMASK = 0o077  # files 0600, directories 0700


def keep_private(home: Path) -> None:
    """LAIP_HOME holds student-level data: from now on every file this process (and each process it starts: dbt,
    Airflow, MLflow, Superset) creates is readable by its owner only (umask 077: files 0600, directories 0700), and
    ``home`` itself is 0700, so files created before this was set are out of reach of other users too."""
    os.umask(PRIVATE_UMASK)
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    if home.stat().st_uid == os.geteuid() and home.stat().st_mode & 0o077:
        os.chmod(home, 0o700)


def fsync_dir(path: Path) -> None:
    """fsync a directory, so a file created, renamed or replaced in it survives a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_replace(staged: Path, target: Path) -> Path:
    """Make the finished file ``staged`` durable and move it over ``target`` in one step (same directory)."""
    with open(staged, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(staged, target)
    fsync_dir(Path(target).parent)
    return Path(target)


def atomic_write_text(target: Path, text: str, mode: int = 0o600) -> Path:
    """Write ``text`` to a temporary file beside ``target`` (unique to this call), then :func:`atomic_replace`.
    The file has ``mode`` before it gets its name (owner-only by default: never readable by others, not even
    briefly)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        return atomic_replace(Path(tmp), target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def staging_path(target: Path, purpose: str) -> Path:
    """A temporary file beside ``target`` that belongs to this process (``<name>.<purpose>-<pid>``), after removing
    the ones that processes which no longer run left behind (a crash mid-write); other live writers' are kept."""
    target = Path(target)
    for leftover in target.parent.glob(f"{target.name}.{purpose}-*"):
        pid = leftover.name.rsplit("-", 1)[-1].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            leftover.unlink(missing_ok=True)
    return target.with_name(f"{target.name}.{purpose}-{os.getpid()}")


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


@contextmanager
def new_duckdb_file(target: Path, purpose: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A new DuckDB database written through the yielded connection beside ``target`` (:func:`staging_path`), then,
    when the block ends, checkpointed and swapped in over ``target`` (:func:`atomic_replace`; a write-ahead log the
    old file's crashed writer left is removed first, never replayed onto the new one). On an error the new file is
    removed and ``target`` stays as it was."""
    import duckdb

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_path(target, purpose)
    for leftover in (staging, _wal(staging)):
        leftover.unlink(missing_ok=True)
    con = duckdb.connect(str(staging))
    try:
        yield con
        con.execute("checkpoint")
    except BaseException:
        con.close()
        for leftover in (staging, _wal(staging)):
            leftover.unlink(missing_ok=True)
        raise
    con.close()
    _wal(target).unlink(missing_ok=True)
    atomic_replace(staging, target)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
