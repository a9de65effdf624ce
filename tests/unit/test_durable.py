"""Owner-only files under LAIP_HOME: ``keep_private`` sets the umask for the process and what it starts and closes the
home itself; atomic writes are owner-only by default; a new DuckDB file replaces the old one whole or not at all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from laip.durable import atomic_write_text, new_duckdb_file

PROBE = """
import os, subprocess, sys
from pathlib import Path
from laip.durable import keep_private
home = Path(sys.argv[1])
keep_private(home)
(home / "made_here").write_text("x")
(home / "dir_here").mkdir()
subprocess.run(["touch", str(home / "made_by_a_child")], check=True)
"""


def test_keep_private_closes_home_and_what_is_created_after(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    (home / "before").write_text("x")
    subprocess.run([sys.executable, "-c", PROBE, str(home)], check=True)
    modes = {p.name: p.stat().st_mode & 0o777 for p in home.iterdir()}
    assert home.stat().st_mode & 0o777 == 0o700
    assert modes["made_here"] == modes["made_by_a_child"] == 0o600 and modes["dir_here"] == 0o700


def test_atomic_writes_are_owner_only(tmp_path: Path) -> None:
    assert atomic_write_text(tmp_path / "report.json", "{}").stat().st_mode & 0o777 == 0o600


def test_a_new_duckdb_file_replaces_the_old_one_only_when_written_to_the_end(tmp_path: Path) -> None:
    target = tmp_path / "warehouse.duckdb"
    with new_duckdb_file(target, "writing") as con:
        con.execute("create table t as select 1 as version")
    (tmp_path / "warehouse.duckdb.wal").write_text("a crashed writer's log of the old file")
    with pytest.raises(RuntimeError, match="bad input"), new_duckdb_file(target, "writing") as con:
        con.execute("create table t as select 2 as version")
        raise RuntimeError("bad input")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["warehouse.duckdb", "warehouse.duckdb.wal"]  # untouched
    with new_duckdb_file(target, "writing") as con:
        con.execute("create table t as select 3 as version")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["warehouse.duckdb"]  # the old file's log is not replayed
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("select version from t").fetchall() == [(3,)]
