"""Parse the DAG folder the way Airflow's dag-processor does and print its structure as JSON.

    python -m laip.orchestration.dag_inspect

(run with the environment of :func:`laip.orchestration.airflow_run.airflow_env`)

Used by the DAG integrity tests and the benchmark (parse time); it runs in its own process so the
caller's interpreter never imports Airflow with the wrong configuration.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from laip.config import Settings


def inspect_dags(dags_folder: str) -> dict[str, Any]:
    start = time.perf_counter()
    from airflow.dag_processing.dagbag import DagBag

    imported = time.perf_counter()
    bag = DagBag(dag_folder=dags_folder)
    parsed = time.perf_counter()
    dags = {}
    for dag_id, dag in bag.dags.items():
        dags[dag_id] = {
            "schedule": type(dag.timetable).__name__,
            "tags": sorted(dag.tags),
            "params": sorted(dag.params.keys()),
            "param_types": {k: dag.params.get_param(k).schema.get("type") for k in sorted(dag.params.keys())},
            "doc_md": bool(dag.doc_md),
            "max_active_runs": dag.max_active_runs,
            "catchup": dag.catchup,
            "is_paused_upon_creation": dag.is_paused_upon_creation,
            "tasks": {
                t.task_id: {
                    "upstream": sorted(t.upstream_task_ids),
                    "pool": t.pool,
                    "queue": t.queue,
                    "operator": type(t).__name__,
                    "retries": t.retries,
                    "trigger_rule": str(t.trigger_rule),
                }
                for t in dag.tasks
            },
        }
    return {
        "import_errors": {k: v for k, v in bag.import_errors.items()},
        "airflow_import_s": imported - start,
        "parse_s": parsed - imported,
        "dags": dags,
    }


def describe(settings: Settings) -> dict[str, Any]:
    """Structure of the platform's DAGs, parsed in a subprocess with the platform's Airflow environment."""
    from laip.orchestration.airflow_run import airflow_env

    env = airflow_env(settings)
    proc = subprocess.run(
        [sys.executable, "-m", "laip.orchestration.dag_inspect"], env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode:
        raise RuntimeError(f"DAG inspection failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    print(json.dumps(inspect_dags(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]), default=str))
