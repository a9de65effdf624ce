"""Event days are bounded by their presentation's length in the warehouse too: dbt's ``day_within_presentation``
test fails on a click day past the module's end that reached ``raw`` without validation (validation refuses it
first: ``tests/unit/ingest/test_validate.py``, case ``click_day_beyond_the_module``)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import duckdb

from laip.config import Settings, load_settings
from laip.warehouse.build import dbt_args_tail, dbt_env, dbt_executable


def _dbt_test(settings: Settings, target: Path) -> subprocess.CompletedProcess[str]:
    cmd = [dbt_executable(), "test", "--select", "stg_oulad__student_vle", "--indirect-selection", "eager"]
    cmd += dbt_args_tail(settings, target_path=target)
    env = {**os.environ, **dbt_env(settings)}
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


def test_a_click_day_past_the_module_end_fails_the_dbt_tests(built_sample: Settings, tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "home")
    settings.warehouse.parent.mkdir(parents=True)
    shutil.copy2(built_sample.warehouse, settings.warehouse)
    passed = _dbt_test(settings, tmp_path / "target")
    assert passed.returncode == 0, passed.stdout[-3000:]
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("update raw.student_vle set date = 99999 where rowid = (select min(rowid) from raw.student_vle)")
    failed = _dbt_test(settings, tmp_path / "target")
    assert failed.returncode != 0, failed.stdout[-3000:]
    assert "day_within_presentation_stg_oulad__student_vle_click_day" in failed.stdout, failed.stdout[-3000:]
