"""The `laip` command as a user runs it (a real process): exit codes, messages, untouched warehouse."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.bad_input import negative_clicks


def laip(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "laip", *args], env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    return {**os.environ, "LAIP_HOME": str(home)}


def test_validate_json_and_exit_codes(env: dict[str, str], sample_dir: Path, plain_sample: Path) -> None:
    ok = laip("validate", str(sample_dir), "--json", env=env)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True
    negative_clicks(plain_sample)
    bad = laip("validate", str(plain_sample), env=env)
    assert bad.returncode == 1
    assert "ERROR studentVle.csv line 301, column sum_click: value must be > 0 (value '-4')" in bad.stdout


def test_load_refuses_bad_data_and_keeps_warehouse(
    env: dict[str, str], home: Path, sample_dir: Path, plain_sample: Path
) -> None:
    first = laip("load", str(sample_dir), env=env)
    assert first.returncode == 0, first.stderr
    warehouse = home / "warehouse" / "laip.duckdb"
    before = hashlib.sha256(warehouse.read_bytes()).hexdigest()
    negative_clicks(plain_sample)
    # plain .csv copies are not the bundled sample's files: a change of source, confirmed here
    bad = laip("load", str(plain_sample), "--confirm-source-change", env=env)
    assert bad.returncode == 1
    assert "studentVle.csv line 301" in bad.stderr and "is unchanged" in bad.stderr
    assert hashlib.sha256(warehouse.read_bytes()).hexdigest() == before
    again = laip("load", str(sample_dir), env=env)
    assert again.returncode == 0 and "unchanged" in again.stdout
