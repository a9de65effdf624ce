"""
### LAIP pipeline: OULAD raw files to dashboards and risk scores

`validate_raw → load_raw → dbt (Cosmos task group) → certify_build → monitor → retrain_or_keep →
(train_model | keep_champion) → score → insight_cards → publish`

* **validate_raw** checks the 7 OULAD files (presence, headers, types, keys, domains) and reports click-log
  coverage; a bad file fails the run here, naming file, column and row. Nothing downstream runs.
* **load_raw** loads them into DuckDB `raw.*` (new file, atomic swap; a no-op when the files are unchanged).
* **dbt** builds staging → intermediate → marts; each model and its tests is a task. One `dbt build`
  process (`dbt_producer_watcher`) does the work; the model tasks report each node's result.
* **certify_build** marks the warehouse as fully built and tested (publish refuses otherwise).
* **monitor** compares the current data with the champion's training reference (PSI, KS), its ROC AUC by
  presentation with the recorded one, and the API's latency and errors (`ml.ml_monitoring_*`), then decides.
* **retrain_or_keep** branches: **train_model** (train, register, move the `champion` alias) when there is no
  champion, a labelled presentation's AUC fell below the recorded AUC by the configured relative drop, or a key
  feature's PSI exceeds its threshold, in data new or changed since the champion's training (thresholds:
  `ml/config.yaml` `monitoring:`, plan: `docs/retraining_plan.md`), otherwise **keep_champion** (logs why).
* **score / insight_cards** (after either branch): serving tables with the champion, insight cards.
* **publish** swaps in the read-only snapshot that Superset and the API read.

All warehouse writers share the pool `laip_warehouse` (1 slot): DuckDB allows one writer.
Schedule: off by default; for a nightly refresh set `LAIP_SCHEDULE="0 3 * * *"`.
Params: `data_dir` (empty = the configured dir or the official download; never the bundled sample, which only the
first `make run` of a home uses), `confirm_source_change` (needed to load data of another family than the last
load's: sample vs real data, fewer module-presentations), `full_refresh`, `models`, `retrain` (`auto` = the
monitoring rule, `always`, `never`).
Risk signals are descriptive and ML risk bands are model outputs: neither is causal.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, Param, get_current_context, task
from cosmos import DbtTaskGroup

from laip.config import load_settings
from laip.durable import keep_private
from laip.ml.monitoring.config import RETRAIN_MODES
from laip.orchestration import tasks
from laip.orchestration.dag_config import (
    DAG_ID,
    DEFAULT_ARGS,
    DEFAULT_MODELS,
    TAGS,
    WAREHOUSE_POOL,
    cosmos_configs,
    run_watchers_after_producer,
)

settings = load_settings()
keep_private(settings.home)  # task processes write student-level data under LAIP_HOME: owner-only files


def _params() -> dict:
    return get_current_context()["params"]


with DAG(
    dag_id=DAG_ID,
    description="OULAD: validate, load, dbt build, monitor, retrain or keep, score, insight cards, publish",
    doc_md=__doc__,
    schedule=os.environ.get("LAIP_SCHEDULE") or None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=TAGS,
    params={
        "data_dir": Param(
            None,
            type=["null", "string"],
            description="Raw OULAD directory; empty = the configured default (data/raw or LAIP_DATA_DIR)",
        ),
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
    },
) as dag:

    @task(retries=0)
    def validate_raw() -> dict:
        p = _params()
        return tasks.report(
            tasks.validate_raw(settings, p["data_dir"] or None, confirm_change=p["confirm_source_change"])
        )

    @task(pool=WAREHOUSE_POOL)
    def load_raw() -> dict:
        p = _params()
        return tasks.report(tasks.load_raw(settings, p["data_dir"] or None, confirm_change=p["confirm_source_change"]))

    dbt = DbtTaskGroup(group_id="dbt", **cosmos_configs(settings))
    run_watchers_after_producer(dag, "dbt")

    @task(pool=WAREHOUSE_POOL)
    def certify_build() -> dict:
        return tasks.certify_build(settings)

    @task(pool=WAREHOUSE_POOL)
    def monitor() -> dict:
        return tasks.report(tasks.monitor(settings, _params()["retrain"]))

    @task.branch
    def retrain_or_keep(decision: dict) -> str:
        return tasks.branch_after_monitor(decision)

    @task(pool=WAREHOUSE_POOL)
    def train_model(decision: dict) -> dict:
        return tasks.retrain(settings, decision, _params()["models"])

    @task
    def keep_champion(decision: dict) -> dict:
        return tasks.keep_champion(settings, decision)

    @task(pool=WAREHOUSE_POOL, trigger_rule="none_failed_min_one_success")
    def score() -> dict:
        return tasks.report(tasks.score(settings))

    @task(pool=WAREHOUSE_POOL)
    def insight_cards() -> dict:
        return tasks.report(tasks.insight_cards(settings))

    @task(pool=WAREHOUSE_POOL)
    def publish() -> dict:
        return tasks.report(tasks.publish(settings))

    decision = monitor()
    validate_raw() >> load_raw() >> dbt >> certify_build() >> decision
    branch = retrain_or_keep(decision)
    branch >> [train_model(decision), keep_champion(decision)] >> score() >> insight_cards() >> publish()
