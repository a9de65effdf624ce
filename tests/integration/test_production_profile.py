"""The production profile on real servers the tests start themselves (support.production): PostgreSQL 15 with one
role and database per service, provisioned by the compose file's init script, and Redis. Airflow's, Superset's and
MLflow's migrations run against the empty databases and again against the migrated ones; each service's tables
belong to its own role, which can reach no other service's database; publishing empties Superset's chart cache."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import duckdb
import pytest
from support.mlflow_server import auth_server
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


def _mlflow_call(production: ProductionServers, home: Path, path: str, body: dict | None = None) -> dict:
    with production.active():
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
    port = int(production.mlflow_url.rpartition(":")[2])
    with auth_server(home, port, production.env):  # migrates the empty database
        created = _mlflow_call(production, home, "/experiments/create", {"name": "laip-production-profile"})
        with pytest.raises(urllib.error.HTTPError) as anonymous:
            urllib.request.urlopen(f"{production.mlflow_url}/api/2.0/mlflow/experiments/search?max_results=5")
        assert anonymous.value.code == 401
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        assert production.passwords["mlflow"] not in ps  # the database URL is in the server's environment only
    with auth_server(home, port, production.env):  # an already-migrated database
        found = _mlflow_call(production, home, f"/experiments/get?experiment_id={created['experiment_id']}")
        assert found["experiment"]["name"] == "laip-production-profile"
    tables = _tables(production, "mlflow")
    assert {"experiments", "runs", "registered_models", "alembic_version"} <= set(tables)
    assert {"users", "alembic_version_auth"} <= set(tables)  # the accounts too: in PostgreSQL, not beside the server
    assert set(tables.values()) == {"mlflow"}
    assert not list(home.rglob("*.db"))


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


HEARTBEAT_TIMEOUT_S = 30  # a task whose worker died is failed (and retried) this long after its last heartbeat


@pytest.fixture(scope="module")
def celery_stack(production: ProductionServers, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Airflow under the CeleryExecutor (api-server, scheduler, dag-processor, triggerer, two default workers and the
    warehouse worker) and the MLflow server, all on the production profile's PostgreSQL and Redis. Yields the
    settings, the Airflow service's info and a context manager that re-enters the stack's environment."""
    from laip.services import stack as services
    from laip.services.net import free_port

    settings = load_settings(home=tmp_path_factory.mktemp("celery") / "home")
    env = {
        "LAIP_ML_PROFILE": "quick",
        "LAIP_AIRFLOW_PORT": str(free_port()),
        "LAIP_MLFLOW_PORT": production.mlflow_url.rpartition(":")[2],
        "LAIP_SUPERSET_PORT": str(free_port()),
        "LAIP_API_PORT": str(free_port()),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_S),
    }

    @contextlib.contextmanager
    def stack_env() -> Iterator[None]:
        with production.active(), mock.patch.dict(os.environ, env):
            yield

    with stack_env():
        try:
            services.start(settings, services.mlflow_service(settings), timeout_s=180)
            yield settings, services.start(settings, services.airflow_service(settings), timeout_s=300), stack_env
        finally:
            services.down(settings)


def _kill_the_warehouse_worker_while_it_trains(api, run_id: str, settings, stack_env) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL the warehouse worker and every process under it once ``train_model`` runs on it, as a lost container or
    machine takes them (Airflow runs each task in a process group of its own, so a kill of the worker's group alone
    would leave the task running); then start a replacement, as the compose file's restart policy would."""
    import psutil

    from laip.services import stack as services

    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:  # until train_model runs on the warehouse worker
        states = api.task_states(run_id)
        if states.get("train_model") not in (None, "scheduled", "queued") or "failed" in states.values():
            break
        time.sleep(0.5)
    assert api.task_states(run_id).get("train_model") == "running", api.task_states(run_id)
    time.sleep(2)  # well inside the training: it holds the writer lock, the model half logged
    victim = services.running(settings)["airflow-warehouse-worker"]
    worker = psutil.Process(victim["pid"])
    for process in [worker, *worker.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    with stack_env():  # the replacement: only the dead process is started again
        services.start(settings, services.airflow_service(settings), timeout_s=300)
    assert services.running(settings)["airflow-warehouse-worker"]["pid"] != victim["pid"]


def test_the_dag_runs_on_celery_workers_with_every_writer_on_the_warehouse_worker_even_when_it_is_lost(  # type: ignore[no-untyped-def]
    celery_stack, production: ProductionServers
) -> None:
    """The DAG on the CeleryExecutor: every task that writes the warehouse ran on the warehouse queue's one worker, the
    others on the default workers. Midway the warehouse worker is killed while it trains; the scheduler fails the
    task whose heartbeat stopped, retries it on the replacement, and the run succeeds with the warehouse whole."""
    from support.data import SAMPLE_DIR

    from laip.orchestration.airflow_api import AirflowApi
    from laip.orchestration.airflow_run import admin_credentials
    from laip.orchestration.dag_config import WAREHOUSE_POOL, WAREHOUSE_QUEUE
    from laip.orchestration.dag_runs import latest_run_id, task_runs

    settings, info, stack_env = celery_stack
    api = AirflowApi(info["url"], *admin_credentials(settings))
    api.wait_for_dag()
    run_id = api.trigger({"data_dir": str(SAMPLE_DIR), "models": ["lr"]})
    _kill_the_warehouse_worker_while_it_trains(api, run_id, settings, stack_env)
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
    [train] = [t for t in instances if t["task_id"] == "train_model"]
    assert train["try_number"] == 2, train  # the killed try, then the one on the replacement
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:  # the working warehouse opens and is whole
        scored = con.execute("select count(*) from ml.ml_withdrawal_predictions").fetchall()[0][0]
    with duckdb.connect(str(settings.serving_warehouse), read_only=True) as con:
        assert con.execute("select count(*) from ml.ml_withdrawal_predictions").fetchall()[0][0] == scored > 0
    with production.active():  # make run's summary reads the same run from Airflow's PostgreSQL
        assert latest_run_id(settings) == run_id
        summary_state, summary = task_runs(settings, run_id)
        assert summary_state == "success" and {t.task_id: t.state for t in summary} == {k: v[0] for k, v in ran.items()}


def test_superset_and_the_api_run_on_the_profile_and_the_api_follows_a_new_champion(  # type: ignore[no-untyped-def]
    celery_stack, production: ProductionServers
) -> None:
    """After the DAG run above: Superset on PostgreSQL answers the chart-data API for every chart; the API predicts
    with the champion read through the MLflow server, as the pipeline scored it; a second ``laip train`` moves the
    alias and ``POST /model/reload`` serves the new version."""
    import math
    import types

    from mlflow import MlflowClient
    from support.api_server import auth, request
    from support.superset_charts import chart_data, query_context

    from laip.credentials import use_mlflow_login
    from laip.services import stack as services
    from laip.services.superset_api import SupersetAPI

    settings, _, stack_env = celery_stack
    with stack_env():
        superset = services.start(settings, services.superset_service(settings), timeout_s=900)
        api = types.SimpleNamespace(
            url=services.start(settings, services.api_service(settings))["url"][: -len("/docs")]
        )
        bi = SupersetAPI(superset["url"], superset["username"], superset["password"])
        status, charts = bi.get("/api/v1/chart/?q=(page_size:100)")
        assert status == 200 and charts["count"] >= 20, charts
        answers = {c["slice_name"]: chart_data(bi, query_context(bi, c["id"])) for c in charts["result"]}
        assert not {name: (code, str(body)[:300]) for name, (code, body) in answers.items() if code != 200}
        tables = "select count(*) from pg_tables where tableowner = 'superset' and tablename = 'dashboards'"
        assert production.psql("superset", tables) == "1"  # Superset's metadata is in its PostgreSQL database

        model = request(api, "GET", "/model")[1]
        features = model["features"]
        with duckdb.connect(str(settings.serving_warehouse), read_only=True) as con:
            picked = con.execute(
                f"select f.student_module_id, {', '.join('f.' + c for c in features)}, p.withdrawal_probability "
                "from marts.mart_withdrawal_prediction_features f join ml.ml_withdrawal_predictions p "
                "using (student_module_id) where f.prediction_day = 30 and p.prediction_day = 30 limit 1"
            ).df()
        [row] = json.loads(picked.to_json(orient="records"))  # JSON types, as a client sends them
        expected = row.pop("withdrawal_probability")
        record = {k: row[k] for k in ["student_module_id", *features]}
        status, predicted = request(api, "POST", "/predict", record)
        assert status == 200 and math.isclose(predicted["probability"], expected, abs_tol=1e-6), predicted

        train = subprocess.run(
            [sys.executable, "-m", "laip", "train", "--models", "lr", "--checkpoints", "30"],
            env={**os.environ, "LAIP_HOME": str(settings.home)},
            capture_output=True,
            text=True,
            check=False,
        )
        assert train.returncode == 0, (train.returncode, train.stdout[-2000:], train.stderr[-4000:])
        use_mlflow_login(settings.home, os.environ["MLFLOW_TRACKING_URI"])
        # the server, named for tracking and registry: an earlier test of this process may have set MLflow's global
        # URIs, which MlflowClient() prefers to MLFLOW_TRACKING_URI (this test's CI failures asked another store)
        uri = os.environ["MLFLOW_TRACKING_URI"]
        server = MlflowClient(tracking_uri=uri, registry_uri=uri)
        champion = server.get_model_version_by_alias(model["registered_model_name"], "champion")
        assert int(champion.version) > model["model_version"]  # the alias moved on the server
        assert request(api, "POST", "/predict", record)[0] == 200  # the API kept answering meanwhile
        status, reloaded = request(api, "POST", "/model/reload", headers=auth(settings))
        assert status == 200 and reloaded["model_version"] == int(champion.version), reloaded


def test_up_prod_runs_its_own_servers_with_generated_passwords_and_down_stops_them(tmp_path: Path) -> None:
    import stat

    import redis
    import sqlalchemy as sa

    from laip.profile import AIRFLOW_DB_URL, REDIS_URL
    from laip.services import local_production as local
    from laip.services.net import free_port

    top = Path(tempfile.mkdtemp(prefix="laip-up-prod-"))  # 0700, as a home is: the cluster lives elsewhere as root
    settings = load_settings(home=top / "home")
    ports = {"LAIP_POSTGRES_PORT": str(free_port()), "LAIP_REDIS_PORT": str(free_port())}
    try:
        with mock.patch.dict(os.environ, ports):
            env = local.start_servers(settings)
            assert local.start_servers(settings) == env  # found running: the same servers, the same passwords
            for path in [local.env_file(settings), *(settings.home / "secrets").iterdir()]:
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
            sourced = dict(line.split("=", 1) for line in local.env_file(settings).read_text().splitlines()[1:])
            assert {k: v.strip("'") for k, v in sourced.items()} == env
            with sa.create_engine(env[AIRFLOW_DB_URL]).connect() as con:
                assert con.execute(sa.text("select current_user")).scalar() == "airflow"
            assert redis.Redis.from_url(env[REDIS_URL] + "/0").ping()
            assert sorted(local.stop_servers(settings)) == ["postgres", "redis"]
            assert local.stop_servers(settings) == []
            local.start_servers(settings)  # the same cluster again: its roles and data are kept
            with sa.create_engine(env[AIRFLOW_DB_URL]).connect() as con:
                assert con.execute(sa.text("select 1")).scalar() == 1
            local.stop_servers(settings)
    finally:
        with mock.patch.dict(os.environ, ports):
            local.stop_servers(settings)
        shutil.rmtree(local.postgres_dir(settings), ignore_errors=True)
        shutil.rmtree(top, ignore_errors=True)
