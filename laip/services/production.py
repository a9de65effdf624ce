"""The production profile's extra processes for ``make up-prod`` and the tests (``docs/deployment.md``).

Airflow under the CeleryExecutor needs workers besides the api-server, scheduler, dag-processor and triggerer:

* ``airflow-worker-1``, ``airflow-worker-2``: the ``default`` queue (every task that does not write the warehouse),
  :data:`WORKER_CONCURRENCY` slots each; more workers scale this out.
* ``airflow-warehouse-worker``: the warehouse queue only, **one** slot. Every task that writes the DuckDB file is
  routed there (``laip.orchestration.dag_config.WAREHOUSE_TASK``), so one writer at a time is a property of the
  routing, besides the pool and the writer lock (``laip.locks``).

Each worker names itself (``LAIP_WORKER_NAME``, reported as the task instance's hostname through
``laip.profile.worker_hostname``), so ops see in the UI which worker ran a task.
"""

from __future__ import annotations

from laip.orchestration.dag_config import WAREHOUSE_QUEUE

DEFAULT_QUEUE = "default"  # Airflow's [operators] default_queue
WORKER_CONCURRENCY = 2
WORKER_NAME_ENV = "LAIP_WORKER_NAME"
# worker process name -> (queues, concurrency)
WORKERS: dict[str, tuple[str, int]] = {
    "airflow-worker-1": (DEFAULT_QUEUE, WORKER_CONCURRENCY),
    "airflow-worker-2": (DEFAULT_QUEUE, WORKER_CONCURRENCY),
    "airflow-warehouse-worker": (WAREHOUSE_QUEUE, 1),
}


def celery_worker_argv(airflow: str, name: str, queues: str, concurrency: int) -> list[str]:
    """``airflow celery worker`` ``name`` for ``queues`` with ``concurrency`` slots. Workers on one machine share the
    log folder the api-server reads, so none serves logs over HTTP (its port would clash)."""
    return [airflow, "celery", "worker", "--queues", queues, "--concurrency", str(concurrency),
            "--celery-hostname", f"{name}@%h", "--skip-serve-logs", "--without-mingle", "--without-gossip"]  # fmt: skip


def worker_processes(airflow: str, env: dict[str, str]) -> list[tuple[str, list[str], dict[str, str]]]:
    """(name, argv, env) of each Celery worker of :data:`WORKERS`."""
    return [
        (name, celery_worker_argv(airflow, name, queues, slots), {**env, WORKER_NAME_ENV: name})
        for name, (queues, slots) in WORKERS.items()
    ]
