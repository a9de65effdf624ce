"""The production profile on real servers the tests start themselves (support.production): PostgreSQL 15 with one
role and database per service, provisioned by the compose file's init script, and Redis. Airflow's, Superset's and
MLflow's migrations run against the empty databases and again against the migrated ones; each service's tables
belong to its own role, which can reach no other service's database; publishing empties Superset's chart cache."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from unittest import mock

import duckdb
import pytest
from support.production import ProductionServers

from laip.config import load_settings
from laip.credentials import mlflow_pipeline_credentials
from laip.services.postgres_server import SERVICES


def _tables(production: ProductionServers, service: str) -> dict[str, str]:
    """{table: owner} of the public schema of ``service``'s database, read as its own role."""
    rows = production.psql(service, "select tablename, tableowner from pg_tables where schemaname = 'public'")
    return dict(line.split("|") for line in rows.splitlines())


def test_each_service_has_its_own_role_and_database_and_no_more(production: ProductionServers) -> None:
    roles = production.pg.psql(
        "select rolname, rolsuper, rolcreatedb, rolcreaterole from pg_roles where rolname in ('airflow', 'superset', "
        "'mlflow') order by 1"
    )
    assert roles.splitlines() == [f"{s}|f|f|f" for s in sorted(SERVICES)]
    for service in SERVICES:
        assert production.psql(service, "select current_user") == service
        for other in set(SERVICES) - {service}:
            with pytest.raises(RuntimeError, match=f'permission denied for database "{other}"'):
                production.psql(service, "select 1", database=other)
    production.pg.provision(production.passwords)  # the init script again: nothing to create, nothing breaks
    assert all(production.psql(s, "select current_user") == s for s in SERVICES)


def test_airflow_migrates_postgres_and_migrates_it_again(production: ProductionServers, tmp_path: Path) -> None:
    from laip.orchestration.airflow_run import _airflow, airflow_env

    settings = load_settings(home=tmp_path / "home")
    with production.active():
        env = airflow_env(settings)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:")
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql+psycopg2://airflow:")
        assert env["AIRFLOW__CELERY__BROKER_URL"].endswith(f":{production.redis.port}/0")
        for _ in range(2):  # an empty database, then a migrated one
            _airflow(settings, "db", "migrate")
        _airflow(settings, "db", "check-migrations", "--migration-wait-timeout", "10")
    tables = _tables(production, "airflow")
    assert {"dag_run", "task_instance", "alembic_version"} <= set(tables) and set(tables.values()) == {"airflow"}
    assert not (settings.airflow_home / "airflow.db").exists()  # nothing went to SQLite


def _start_mlflow(production: ProductionServers, home: Path) -> subprocess.Popen[bytes]:
    port = int(production.mlflow_url.rpartition(":")[2])
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")} | production.env
    env["LAIP_HOME"] = str(home)
    log = (home.parent / "mlflow.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "laip.services.mlflow_server", "--port", str(port), "--auth"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(production.mlflow_url + "/health", timeout=5):
                return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((home.parent / "mlflow.log").read_text()[-3000:]) from None
            time.sleep(0.5)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(30)


def _mlflow_call(production: ProductionServers, home: Path, path: str, body: dict | None = None) -> dict:
    user, password = mlflow_pipeline_credentials(home)
    request = urllib.request.Request(
        f"{production.mlflow_url}/api/2.0/mlflow{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method="POST" if body is not None else "GET",
    )
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def test_mlflow_server_keeps_its_store_in_postgres_and_starts_again_on_it(
    production: ProductionServers, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    proc = _start_mlflow(production, home)  # migrates the empty database
    try:
        created = _mlflow_call(production, home, "/experiments/create", {"name": "laip-production-profile"})
        with pytest.raises(urllib.error.HTTPError) as anonymous:
            urllib.request.urlopen(f"{production.mlflow_url}/api/2.0/mlflow/experiments/search?max_results=5")
        assert anonymous.value.code == 401
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        assert production.passwords["mlflow"] not in ps  # the database URL is in the server's environment only
    finally:
        _stop(proc)
    proc = _start_mlflow(production, home)  # an already-migrated database
    try:
        found = _mlflow_call(production, home, f"/experiments/get?experiment_id={created['experiment_id']}")
        assert found["experiment"]["name"] == "laip-production-profile"
    finally:
        _stop(proc)
    tables = _tables(production, "mlflow")
    assert {"experiments", "runs", "registered_models", "alembic_version"} <= set(tables)
    assert set(tables.values()) == {"mlflow"}


def test_superset_upgrades_postgres_and_upgrades_it_again(production: ProductionServers, tmp_path: Path) -> None:
    from laip.services.superset import VENV, superset_env

    settings = load_settings(home=tmp_path / "home")
    with production.active():
        env = superset_env(settings)
    for _ in range(2):  # an empty database, then a migrated one
        proc = subprocess.run(
            [str(VENV / "bin" / "superset"), "db", "upgrade"], env=env, capture_output=True, text=True, timeout=900
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
    tables = _tables(production, "superset")
    assert {"dashboards", "slices", "ab_user", "alembic_version"} <= set(tables)
    assert set(tables.values()) == {"superset"}
    assert not (settings.superset_home / "superset.db").exists()  # nothing went to SQLite


def test_publishing_empties_supersets_chart_cache_and_nothing_else(production: ProductionServers) -> None:
    import redis

    from laip.profile import redis_url
    from laip.warehouse.publish import clear_chart_cache

    with production.active():
        charts = redis.Redis.from_url(redis_url("superset_data_cache"))
        broker = redis.Redis.from_url(redis_url("airflow_celery"))
        charts.set("superset_data_chart_1", b"last week's rows")
        broker.set("a-queued-task", b"kept")
        clear_chart_cache()
        assert charts.dbsize() == 0 and broker.get("a-queued-task") == b"kept"


@pytest.fixture(scope="module")
def celery_stack(production: ProductionServers, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Airflow under the CeleryExecutor (api-server, scheduler, dag-processor, triggerer, two default workers and the
    warehouse worker) and the MLflow server, all on the production profile's PostgreSQL and Redis."""
    from laip.services import stack as services
    from laip.services.net import free_port

    settings = load_settings(home=tmp_path_factory.mktemp("celery") / "home")
    env = {
        "LAIP_ML_PROFILE": "quick",
        "LAIP_AIRFLOW_PORT": str(free_port()),
        "LAIP_MLFLOW_PORT": production.mlflow_url.rpartition(":")[2],
    }
    with production.active(), mock.patch.dict(os.environ, env):
        try:
            services.start(settings, services.mlflow_service(settings), timeout_s=180)
            yield settings, services.start(settings, services.airflow_service(settings), timeout_s=300)
        finally:
            services.down(settings)


def test_the_dag_runs_on_celery_workers_with_every_writer_on_the_warehouse_worker(celery_stack) -> None:  # type: ignore[no-untyped-def]
    from support.data import SAMPLE_DIR

    from laip.orchestration.airflow_api import AirflowApi
    from laip.orchestration.airflow_run import admin_credentials
    from laip.orchestration.dag_config import WAREHOUSE_POOL, WAREHOUSE_QUEUE

    settings, info = celery_stack
    api = AirflowApi(info["url"], *admin_credentials(settings))
    api.wait_for_dag()
    run_id = api.trigger({"data_dir": str(SAMPLE_DIR), "models": ["lr"]})
    state = api.wait_for_run(run_id, timeout_s=1200)
    instances = api.task_instances(run_id)
    ran = {t["task_id"]: (t["state"], t["queue"], t["hostname"] or "") for t in instances}
    assert state == "success", {k: v for k, v in ran.items() if v[0] not in ("success", "skipped")}
    writers = {t["task_id"] for t in instances if t["pool"] == WAREHOUSE_POOL and t["state"] == "success"}
    assert {"load_raw", "dbt.dbt_producer_watcher", "train_model", "score", "publish"} <= writers
    for task_id in writers:  # every writer went to the warehouse queue, and its one worker ran it
        _, queue, host = ran[task_id]
        assert queue == WAREHOUSE_QUEUE and host.startswith("airflow-warehouse-worker@"), (task_id, ran[task_id])
    # the rest ran on the default workers (a task no worker ran, such as an empty marker, has no hostname)
    others = {t: v for t, v in ran.items() if t not in writers and v[0] == "success" and v[2]}
    assert "validate_raw" in others and all(v[2].startswith("airflow-worker-") for v in others.values()), others
    with duckdb.connect(str(settings.serving_warehouse), read_only=True) as con:
        assert con.execute("select count(*) from ml.ml_withdrawal_predictions").fetchall()[0][0] > 0
