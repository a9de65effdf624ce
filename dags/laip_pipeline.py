"""
### LAIP pipeline: OULAD raw files to dashboards and risk scores

`validate_raw → load_raw → dbt (Cosmos task group) → certify_build → train_model → score → insight_cards → publish`

* **validate_raw** checks the 7 OULAD files (presence, headers, types, keys, domains) and reports click-log
  coverage; a bad file fails the run here, naming file, column and row. Nothing downstream runs.
* **load_raw** loads them into DuckDB `raw.*` (new file, atomic swap; a no-op when the files are unchanged).
* **dbt** builds staging → intermediate → marts; each model and its tests is a task. One `dbt build`
  process (`dbt_producer_watcher`) does the work; the model tasks report each node's result.
* **certify_build** marks the warehouse as fully built and tested (publish refuses otherwise).
* **train_model / score / insight_cards**: day-30 withdrawal-risk model (MLflow), serving tables, insight cards.
* **publish** swaps in the read-only snapshot that Superset and the API read.

All warehouse writers share the pool `laip_warehouse` (1 slot): DuckDB allows one writer.
Schedule: off by default; for a nightly refresh set `LAIP_SCHEDULE="0 3 * * *"`.
Params: `data_dir` (empty = configured dir, download, or bundled sample), `full_refresh`, `models`.
Risk signals are descriptive and ML risk bands are model outputs: neither is causal.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, Param, get_current_context, task
from cosmos import DbtTaskGroup

from laip import tasks
from laip.config import load_settings
from laip.dag_config import (
    DAG_ID, DEFAULT_ARGS, DEFAULT_MODELS, TAGS, WAREHOUSE_POOL, cosmos_configs, run_watchers_after_producer,
)

settings = load_settings()


def _params() -> dict:
    return get_current_context()["params"]


with DAG(
    dag_id=DAG_ID,
    description="OULAD: validate, load, dbt build, train, score, insight cards, publish",
    doc_md=__doc__,
    schedule=os.environ.get("LAIP_SCHEDULE") or None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=TAGS,
    params={
        "data_dir": Param("", type="string", description="Raw OULAD directory; empty = configured default"),
        "full_refresh": Param(False, type="boolean", description="dbt --full-refresh"),
        "models": Param(DEFAULT_MODELS, type="array", description="Models to train: lr, rf, hgb"),
    },
) as dag:

    @task(retries=0)
    def validate_raw() -> dict:
        return tasks.validate_raw(settings, _params()["data_dir"] or None)

    @task(pool=WAREHOUSE_POOL)
    def load_raw() -> dict:
        return tasks.load_raw(settings, _params()["data_dir"] or None)

    dbt = DbtTaskGroup(group_id="dbt", **cosmos_configs(settings))
    run_watchers_after_producer(dag, "dbt")

    @task(pool=WAREHOUSE_POOL)
    def certify_build() -> dict:
        return tasks.certify_build(settings)

    @task(pool=WAREHOUSE_POOL)
    def train_model() -> dict:
        return tasks.train_model(settings, _params()["models"])

    @task(pool=WAREHOUSE_POOL)
    def score() -> dict:
        return tasks.score(settings)

    @task(pool=WAREHOUSE_POOL)
    def insight_cards() -> dict:
        return tasks.insight_cards(settings)

    @task(pool=WAREHOUSE_POOL)
    def publish() -> dict:
        return tasks.publish(settings)

    validate_raw() >> load_raw() >> dbt >> certify_build() >> train_model() >> score() >> insight_cards() >> publish()
