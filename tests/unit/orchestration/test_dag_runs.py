"""The run summary and the progress lines read Airflow's metadata database through its URL (SQLite here; the
production profile's PostgreSQL in tests/integration/test_production_profile.py)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from unittest import mock

from laip.config import load_settings
from laip.orchestration.dag_runs import ProgressWatcher, latest_run_id, task_runs


def _metadata(airflow_home: Path) -> None:
    airflow_home.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(airflow_home / "airflow.db") as con:
        con.execute("create table dag_run (id integer primary key, dag_id text, run_id text, state text)")
        con.execute(
            "create table task_instance (dag_id text, run_id text, task_id text, state text, duration real, "
            "start_date text)"
        )
        con.executemany(
            "insert into dag_run (dag_id, run_id, state) values (?, ?, ?)",
            [("laip_pipeline", "first", "success"), ("laip_pipeline", "second", "running")],
        )
        con.executemany(
            "insert into task_instance values ('laip_pipeline', 'second', ?, ?, ?, ?)",
            [
                ("publish", None, None, None),
                ("load_raw", "success", 4.5, "2026-12-04 10:00:05"),
                ("validate_raw", "success", 1.0, "2026-12-04 10:00:00"),
            ],
        )


def test_runs_and_their_tasks_come_in_execution_order(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "home")
    _metadata(settings.airflow_home)
    with mock.patch.dict(os.environ, {"LAIP_PROFILE": "embedded"}):
        assert latest_run_id(settings) == "second"
        state, tasks = task_runs(settings, "second")
        assert state == "running"
        assert [(t.task_id, t.state, t.seconds) for t in tasks] == [
            ("validate_raw", "success", 1.0),
            ("load_raw", "success", 4.5),
            ("publish", None, None),  # not started yet: last
        ]
        assert task_runs(settings, "never")[0] == "unknown"
        lines: list[str] = []
        with ProgressWatcher(settings, before="first", report=lines.append, every=60):
            pass
        assert len(lines) == 2 and "validate_raw" in lines[0] and "2/3" in lines[1]
