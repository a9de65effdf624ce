"""The platform's DAGs, built by one function so both run the same steps (:mod:`laip.orchestration.tasks`):

* ``laip_pipeline`` (``live=False``): the manual full-history run (``make run``), on the raw files of ``data_dir``;
* ``laip_weekly`` (``live=True``): a live term. Its run for logical date D first takes the export as of D
  (``prepare_export``: the files dropped into ``<exports>/D/``, or in demo mode the export replayed from a finished
  history, :mod:`laip.orchestration.live_term`), validates and loads it as an export as of D, then runs the same
  steps; every later warehouse step first checks the warehouse still holds D's export.

The DAG files in ``dags/`` only call :func:`build_dag`: parsing them runs no dbt and touches no warehouse.
"""

from __future__ import annotations

import os
from datetime import date
from typing import Any

from airflow.sdk import DAG, Param, get_current_context, task
from cosmos import DbtTaskGroup

from laip.config import Settings, load_settings
from laip.durable import keep_private
from laip.ml.monitoring.config import RETRAIN_MODES
from laip.orchestration import tasks
from laip.orchestration.alerts import failure_notifiers
from laip.orchestration.dag_config import (
    DEFAULT_ARGS,
    DEFAULT_MODELS,
    LIVE_START_DATE,
    MANUAL_START_DATE,
    TAGS,
    WAREHOUSE_TASK,
    cosmos_configs,
    run_watchers_after_producer,
)
from laip.orchestration.live_term import export_dir, prepare_export, require_export_loaded, run_date


def _run_day() -> date:
    """The date of the running task's DAG run (:func:`~laip.orchestration.live_term.run_date`)."""
    day = run_date(get_current_context())
    if day is None:
        raise tasks.StepFailed("this DAG run has neither a logical date nor a trigger time")
    return day


def _params() -> dict:
    return get_current_context()["params"]


def _common_params() -> dict[str, Param]:
    return {
        "confirm_source_change": Param(
            False,
            type="boolean",
            description="Load data of another family than the last load's (sample vs real data, fewer "
            "module-presentations); without it such a run fails at validate_raw",
        ),
        "full_refresh": Param(False, type="boolean", description="dbt --full-refresh"),
        "models": Param(DEFAULT_MODELS, type="array", description="Models to train: lr, rf, hgb"),
        "retrain": Param(
            "auto",
            type="string",
            enum=list(RETRAIN_MODES),
            description="auto: retrain when monitoring triggers; always; never",
        ),
    }


def _source_param(settings: Settings, live: bool) -> dict[str, Param]:
    if live:
        default = str(settings.replay_from) if settings.replay_from else None
        return {
            "replay_from": Param(
                default,
                type=["null", "string"],
                description="Demo mode: replay the export as of the run's date from this finished history (e.g. the "
                "OULAD directory); empty = production, the export dropped into <exports>/YYYY-MM-DD/",
            )
        }
    return {
        "data_dir": Param(
            None,
            type=["null", "string"],
            description="Raw OULAD directory; empty = the configured default (data/raw or LAIP_DATA_DIR)",
        )
    }


def build_dag(dag_id: str, doc_md: str, *, live: bool) -> DAG:
    """One of the platform's DAGs (module docstring) with the resolved settings; ``doc_md``: what the Airflow UI shows
    as its docs."""
    settings = load_settings()
    keep_private(settings.home)  # task processes write student-level data under LAIP_HOME: owner-only files
    default_args: dict[str, Any] = dict(DEFAULT_ARGS)
    notifiers = failure_notifiers(settings)
    if notifiers:
        default_args["on_failure_callback"] = notifiers

    def source() -> dict[str, Any]:
        """Where validate_raw and load_raw read, and as of which date."""
        p = _params()
        if live:
            as_of = _run_day()
            return {
                "data_dir": export_dir(settings, as_of),
                "as_of": as_of,
                "confirm_change": p["confirm_source_change"],
            }
        return {"data_dir": p["data_dir"] or None, "confirm_change": p["confirm_source_change"]}

    def same_export() -> None:
        """In a live run, stop unless the warehouse still holds this run's export (no other date loaded since)."""
        if live:
            require_export_loaded(settings, _run_day())

    with DAG(
        dag_id=dag_id,
        description=(
            "A live term: each week the export as of that date, validated, loaded, built, scored and published"
            if live
            else "OULAD: validate, load, dbt build, monitor, retrain or keep, score, insight cards, publish"
        ),
        doc_md=doc_md,
        schedule=settings.weekly_schedule if live else (os.environ.get("LAIP_SCHEDULE") or None),
        start_date=LIVE_START_DATE if live else MANUAL_START_DATE,
        catchup=False,  # a backfill is explicit (UI, `airflow backfill create`, REST API)
        max_active_runs=1,
        is_paused_upon_creation=True if live else None,  # ops unpause it when a term starts
        default_args=default_args,
        tags=[*TAGS, "live-term"] if live else TAGS,
        params={**_source_param(settings, live), **_common_params()},
    ) as dag:
        first = None
        if live:

            @task(retries=0)
            def prepare_export_for_date() -> str:
                replay = _params()["replay_from"] or None
                return str(prepare_export(settings, _run_day(), replay))

            first = prepare_export_for_date.override(task_id="prepare_export")()

        @task(retries=0)
        def validate_raw() -> dict:
            return tasks.report(tasks.validate_raw(settings, **source()))

        @task(**WAREHOUSE_TASK)
        def load_raw() -> dict:
            return tasks.report(tasks.load_raw(settings, **source()))

        dbt = DbtTaskGroup(group_id="dbt", **cosmos_configs(settings, live=live))
        run_watchers_after_producer(dag, "dbt")

        @task(**WAREHOUSE_TASK)
        def certify_build() -> dict:
            if settings.warehouse_engine != "spark":  # on Spark the ML steps' copy of this export is made by certify
                same_export()
            certified = tasks.certify_build(settings)
            same_export()
            return certified

        @task(**WAREHOUSE_TASK)
        def monitor() -> dict:
            same_export()
            return tasks.report(tasks.monitor(settings, _params()["retrain"]))

        @task.branch
        def retrain_or_keep(decision: dict) -> str:
            return tasks.branch_after_monitor(decision)

        @task(**WAREHOUSE_TASK)
        def train_model(decision: dict) -> dict:
            same_export()
            return tasks.retrain(settings, decision, _params()["models"])

        @task
        def keep_champion(decision: dict) -> dict:
            return tasks.keep_champion(settings, decision)

        @task(**WAREHOUSE_TASK, trigger_rule="none_failed_min_one_success")
        def score() -> dict:
            same_export()
            return tasks.report(tasks.score(settings))

        @task(**WAREHOUSE_TASK)
        def insight_cards() -> dict:
            same_export()
            return tasks.report(tasks.insight_cards(settings))

        @task(**WAREHOUSE_TASK)
        def publish() -> dict:
            same_export()
            return tasks.report(tasks.publish(settings))

        decision: Any = monitor()  # an XComArg: the tasks below receive its value
        validated = validate_raw()
        if first is not None:
            first >> validated
        validated >> load_raw() >> dbt >> certify_build() >> decision
        branch = retrain_or_keep(decision)
        branch >> [train_model(decision), keep_champion(decision)] >> score() >> insight_cards() >> publish()
    return dag
