"""Constants and Cosmos configuration of the Airflow DAG, kept out of the DAG file so it stays thin.

dbt runs through astronomer-cosmos in ``ExecutionMode.WATCHER``: one ``dbt build`` process (the
producer task) builds and tests the whole project with dbt's own threading, and one Airflow task per
model and per model's tests reports that node's outcome as soon as dbt finishes it. Ops see every model
and its tests in the graph; the run costs about one plain ``dbt build``. The graph is rendered from a
pre-built ``manifest.json`` (``laip parse``), so parsing the DAG file runs no dbt at all.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from laip.config import Settings
from laip.ml.config import MODEL_NAMES
from laip.warehouse.build import dbt_env
from laip.warehouse.locked_dbt import locked_dbt_executable

DAG_ID = "laip_pipeline"  # the manual full-history run (`make run`)
WEEKLY_DAG_ID = "laip_weekly"  # a live term: each week's run on the export as of its date
MANUAL_START_DATE = datetime(2026, 1, 1)
# The weekly DAG's start: before OULAD's first presentation (February 2013), so a backfill can replay any term of it.
# Catchup is off: unpausing it schedules only the latest week.
LIVE_START_DATE = datetime(2013, 1, 1)
# DuckDB allows one writer per file: every task that writes the warehouse takes the one slot of this pool, and in
# the production profile (CeleryExecutor) goes to this queue, which one worker slot serves (docs/deployment.md).
WAREHOUSE_POOL = "laip_warehouse"
WAREHOUSE_POOL_DESCRIPTION = "One writer at a time for the DuckDB warehouse (DuckDB allows a single writer)."
WAREHOUSE_QUEUE = "laip_warehouse"
WAREHOUSE_TASK: dict[str, Any] = {"pool": WAREHOUSE_POOL, "queue": WAREHOUSE_QUEUE}  # a writer's task arguments
# Off by default (ops trigger runs); the documented schedule for a nightly refresh.
DOCUMENTED_CRON = "0 3 * * *"
TAGS = ["laip", "oulad", "elt", "ml"]
DEFAULT_MODELS = list(MODEL_NAMES)
# dbt's environment variable for --exclude-resource-type (laip.warehouse.build.NO_UNIT_TESTS): a scheduled build.
SCHEDULED_BUILD_ENV = {"DBT_EXCLUDE_RESOURCE_TYPES": "unit_test"}

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "laip",
    "retries": 1,
    "retry_delay": timedelta(seconds=30),
}


def manifest_path(settings: Settings) -> Path:
    return settings.dbt_manifest_dir / "manifest.json"


def cosmos_configs(settings: Settings, *, live: bool = False) -> dict[str, Any]:
    """Keyword arguments for ``cosmos.DbtTaskGroup`` (project, profile, execution, render, operator args); ``live``:
    of the weekly DAG, whose build leaves dbt's unit tests out unless ``live_term.unit_tests`` says otherwise."""
    from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

    manifest = manifest_path(settings)
    use_manifest = manifest.is_file()
    return {
        "project_config": ProjectConfig(
            dbt_project_path=settings.dbt_project_dir,
            manifest_path=manifest if use_manifest else None,
            dbt_vars=settings.dbt_vars(),
            env_vars=dbt_env(settings) | (SCHEDULED_BUILD_ENV if live and not settings.scheduled_unit_tests else {}),
        ),
        "profile_config": ProfileConfig(
            profile_name="laip",
            target_name=settings.warehouse_engine,  # dbt/profiles.yml: duckdb or spark
            profiles_yml_filepath=settings.dbt_project_dir / "profiles.yml",
        ),
        "execution_config": ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER,
            invocation_mode=InvocationMode.SUBPROCESS,
            # dbt under the warehouse writer lock, like every other writer (laip.locks)
            dbt_executable_path=locked_dbt_executable(),
        ),
        "render_config": RenderConfig(
            # Without a manifest (first start before `laip parse`), fall back to `dbt ls` (slower, cached).
            load_method=LoadMode.DBT_MANIFEST if use_manifest else LoadMode.DBT_LS,
            test_behavior=TestBehavior.AFTER_EACH,
            emit_datasets=False,
        ),
        "operator_args": {
            "install_deps": False,
            # dbt failures are deterministic (a failing test, bad SQL): fail fast instead of re-running.
            "retries": 0,
            "full_refresh": "{{ params.full_refresh }}",
            "append_env": True,
            **WAREHOUSE_TASK,
        },
    }


def run_watchers_after_producer(dag: Any, group_id: str) -> int:
    """Make the Cosmos group's root watcher tasks wait for the producer's ``dbt build`` to succeed.

    Cosmos starts watcher sensors alongside the producer and lets them poll (deferred) for each node's
    status. Under ``airflow dags test`` tasks run one at a time, so a sensor polling before the producer
    has run would wait forever; so would one whose producer never ran (an upstream failure). Waiting for
    the producer costs nothing here: it finishes the whole build in seconds. When dbt fails, the producer
    task fails (its log names the failing model and test) and the model tasks are marked upstream_failed.
    Returns the number of tasks rewired.
    """
    from cosmos.constants import PRODUCER_WATCHER_TASK_ID

    prefix = f"{group_id}."
    group_tasks = {t.task_id: t for t in dag.tasks if t.task_id.startswith(prefix)}
    producer = group_tasks[f"{prefix}{PRODUCER_WATCHER_TASK_ID}"]
    rewired = 0
    for task_id, t in group_tasks.items():
        if not hasattr(t, "producer_task_id") or task_id == producer.task_id:
            continue
        if not set(t.upstream_task_ids) & set(group_tasks):
            producer >> t
            t.trigger_rule = "all_success"
            rewired += 1
    return rewired
