"""DAG runs as recorded in Airflow's metadata DB: the run summary, and the progress of a run while it goes.

``make run`` (:func:`laip.orchestration.airflow_run.run_dag`) prints one line per task as it finishes, with the
running total, instead of staying silent for minutes: :class:`ProgressWatcher` reads the metadata DB every few
seconds (read-only queries on Airflow's metadata database: SQLite in the embedded profile, PostgreSQL in the
production one, :func:`laip.profile.airflow_metadata_url`) while ``airflow dags test`` runs.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import cast

import sqlalchemy as sa

from laip.config import Settings
from laip.orchestration.dag_config import DAG_ID
from laip.profile import airflow_metadata_url

FINISHED = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})


@dataclass
class TaskRun:
    task_id: str
    state: str | None  # None: not scheduled yet
    seconds: float | None


@dataclass
class DagRunResult:
    run_id: str
    state: str
    seconds: float
    tasks: list[TaskRun] = field(default_factory=list)
    log_file: Path | None = None
    error: str = ""
    dag_id: str = DAG_ID

    @property
    def success(self) -> bool:
        return self.state == "success"

    def summary(self) -> str:
        lines = [f"DAG {self.dag_id} run {self.run_id}: {self.state.upper()} in {self.seconds:.1f} s"]
        for t in self.tasks:
            secs = f"{t.seconds:8.1f} s" if t.seconds is not None else "        -"
            lines.append(f"  {t.task_id:<58} {t.state or 'none':<16}{secs}")
        if self.error:
            lines.append(self.error)
        if self.log_file:
            lines.append(f"Full log: {self.log_file}")
        return "\n".join(lines)


@functools.cache
def _engine(url: str) -> sa.Engine:
    return sa.create_engine(url, pool_size=1, max_overflow=0) if not url.startswith("sqlite") else sa.create_engine(url)


def _metadata(settings: Settings) -> sa.Engine:
    return _engine(airflow_metadata_url(settings.airflow_home))


def task_runs(settings: Settings, run_id: str, dag_id: str = DAG_ID) -> tuple[str, list[TaskRun]]:
    """State of a DAG run and of its tasks, in execution order, read from Airflow's metadata DB."""
    where = {"dag_id": dag_id, "run_id": run_id}
    with _metadata(settings).connect() as con:
        state = con.execute(sa.text("select state from dag_run where dag_id = :dag_id and run_id = :run_id"), where)
        found = state.scalar()
        rows = con.execute(
            sa.text(
                "select task_id, state, duration from task_instance where dag_id = :dag_id and run_id = :run_id "
                "order by start_date is null, start_date, task_id"
            ),
            where,
        ).all()
    return (found or "unknown"), [TaskRun(*row) for row in cast(list[tuple[str, str | None, float | None]], rows)]


def latest_run_id(settings: Settings, dag_id: str = DAG_ID) -> str | None:
    with _metadata(settings).connect() as con:
        query = sa.text("select run_id from dag_run where dag_id = :dag_id order by id desc limit 1")
        found: str | None = con.execute(query, {"dag_id": dag_id}).scalar()
    return found


class ProgressWatcher:
    """While a new run of the DAG goes (one started after ``before``), call ``report`` with one line per task as it
    finishes: elapsed time, task, state, its duration and how many tasks are done. A no-op without ``report``."""

    def __init__(
        self,
        settings: Settings,
        before: str | None,
        report: Callable[[str], None] | None,
        every: float = 2.0,
        dag_id: str = DAG_ID,
    ):
        self.settings, self.before, self.report, self.every, self.dag_id = settings, before, report, every, dag_id
        self.done: set[str] = set()
        self.stop = threading.Event()
        self.start = time.perf_counter()
        self.thread = threading.Thread(target=self._watch, name="dag-progress", daemon=True)

    def __enter__(self) -> ProgressWatcher:
        if self.report is not None:
            self.thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(10)
        self.poll()  # the tasks that finished since the last poll

    def _watch(self) -> None:
        while not self.stop.wait(self.every):
            try:
                self.poll()
            except sa.exc.SQLAlchemyError:
                pass  # the DB is busy (Airflow writing): next time

    def poll(self) -> None:
        if self.report is None:
            return
        run_id = latest_run_id(self.settings, self.dag_id)
        if run_id is None or run_id == self.before:
            return
        _, runs = task_runs(self.settings, run_id, self.dag_id)
        for t in runs:
            if t.state in FINISHED and t.task_id not in self.done:
                self.done.add(t.task_id)
                took = f"{t.seconds:7.1f} s" if t.seconds is not None else "      -  "
                self.report(
                    f"[{time.perf_counter() - self.start:6.0f} s] {len(self.done):>3}/{len(runs)} "
                    f"{t.task_id:<50} {t.state:<15} {took}"
                )
