"""Run the platform through its Airflow DAG: environment, one-time init, ``airflow dags test``, run summary.

``make run`` calls :func:`run_dag`, so what a user runs locally is exactly what ops schedule. Airflow's
metadata (SQLite; PostgreSQL in the production profile, ``laip.profile``), logs and the generated admin password
live under ``$LAIP_HOME/airflow``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from laip.config import Settings
from laip.durable import atomic_write_text
from laip.orchestration.dag_config import DAG_ID, WAREHOUSE_POOL, WAREHOUSE_POOL_DESCRIPTION
from laip.orchestration.dag_runs import DagRunResult, ProgressWatcher, latest_run_id, task_runs
from laip.profile import airflow_metadata_url, airflow_overrides

log = logging.getLogger(__name__)

ADMIN_USER_ENV = "LAIP_AIRFLOW_ADMIN_USER"
ADMIN_PASSWORD_ENV = "LAIP_AIRFLOW_ADMIN_PASSWORD"


def venv_bin(name: str = "airflow") -> str:
    """A console script installed beside the running interpreter (the project's venv)."""
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


def _secrets(settings: Settings) -> dict[str, str]:
    """Keys Airflow's components must share (JWT signing, API secret): env, else generated once (ignored file)."""
    path = settings.airflow_home / "secrets.json"
    stored = json.loads(path.read_text()) if path.is_file() else {}
    values = {
        "AIRFLOW__API_AUTH__JWT_SECRET": os.environ.get("AIRFLOW__API_AUTH__JWT_SECRET")
        or stored.get("jwt_secret")
        or secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": os.environ.get("AIRFLOW__API__SECRET_KEY")
        or stored.get("secret_key")
        or secrets.token_urlsafe(32),
    }
    wanted = {"jwt_secret": values["AIRFLOW__API_AUTH__JWT_SECRET"], "secret_key": values["AIRFLOW__API__SECRET_KEY"]}
    if stored != wanted:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(wanted), mode=0o600)
    return values


def _admin_user() -> str:
    return os.environ.get(ADMIN_USER_ENV) or "admin"


def airflow_env(settings: Settings, api_port: int = 8080) -> dict[str, str]:
    """Environment for every Airflow process of the platform (CLI, api-server, scheduler, dag-processor)."""
    home = settings.airflow_home
    user = _admin_user()
    return {
        **_secrets(settings),
        **os.environ,
        "LAIP_HOME": str(settings.home),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.repo_root / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "30",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_metadata_url(settings.airflow_home),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{user}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "admin_password.json"),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        # task logs can quote student-level rows: owner-only, like every file under LAIP_HOME (Airflow chmods its
        # log files and folders itself, whatever the umask)
        "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FILE_PERMISSIONS": "0o600",
        "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FOLDER_PERMISSIONS": "0o700",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API__EXPOSE_CONFIG": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "NO_PROXY": "*",  # everything is on loopback; proxy lookups in forked task runners only slow them down
        **airflow_overrides(),  # the production profile's (laip.profile); none in the embedded one
    }


def admin_credentials(settings: Settings) -> tuple[str, str]:
    """Admin user and password for the Airflow UI: from the environment, or generated once into an ignored file."""
    user = _admin_user()
    path = settings.airflow_home / "admin_password.json"
    password = os.environ.get(ADMIN_PASSWORD_ENV) or None
    if password is None and path.is_file():
        password = json.loads(path.read_text()).get(user)
    if password is None:
        password = secrets.token_urlsafe(16)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps({user: password}), mode=0o600)
    return user, password


def _airflow(settings: Settings, *args: str, capture: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [venv_bin(), *args], env=airflow_env(settings), text=True, capture_output=capture, check=False
    )
    if proc.returncode:
        raise RuntimeError(f"`airflow {' '.join(args)}` failed ({proc.returncode}):\n{(proc.stderr or '')[-3000:]}")
    return proc


def init_airflow(settings: Settings) -> None:
    """Idempotent: migrate the metadata DB, create the warehouse pool, write the dbt manifest, set credentials."""
    from laip.warehouse.build import parse

    home = settings.airflow_home
    home.mkdir(parents=True, exist_ok=True)
    stamp = home / ".migrated"  # this Airflow release migrated this database (its URL's digest, not the URL)
    database = hashlib.sha256(airflow_metadata_url(settings.airflow_home).encode()).hexdigest()[:16]
    version = f"{importlib.metadata.version('apache-airflow')} {database}"
    if not stamp.is_file() or stamp.read_text() != version:
        log.info("airflow db migrate (%s)", home)
        _airflow(settings, "db", "migrate")
        stamp.write_text(version)
    _airflow(settings, "pools", "set", WAREHOUSE_POOL, "1", WAREHOUSE_POOL_DESCRIPTION)
    admin_credentials(settings)
    manifest = parse(settings)
    log.info("dbt manifest for the DAG: %s", manifest)


def run_dag(
    settings: Settings,
    conf: dict[str, Any] | None = None,
    *,
    echo: bool = False,
    progress: Callable[[str], None] | None = None,
    dag_id: str = DAG_ID,
    logical_date: date | None = None,
) -> DagRunResult:
    """Run the whole DAG once with ``airflow dags test`` (no scheduler needed) and summarise its tasks; ``progress``
    gets one line per task as it finishes (:class:`~laip.orchestration.dag_runs.ProgressWatcher`). ``logical_date``:
    the run's date (the weekly DAG takes the export as of it); default now."""
    init_airflow(settings)
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    log_file = settings.logs_dir / f"dag_test_{datetime.now():%Y%m%dT%H%M%S}.log"
    before = latest_run_id(settings, dag_id)
    start = time.perf_counter()
    args = [venv_bin(), "dags", "test", dag_id]
    if logical_date is not None:
        args.append(logical_date.isoformat())
    if conf:
        args += ["-c", json.dumps(conf)]
    with log_file.open("w") as out:
        proc = subprocess.Popen(
            args, env=airflow_env(settings), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None
        with ProgressWatcher(settings, before, progress, dag_id=dag_id):
            for line in proc.stdout:
                out.write(line)
                if echo:
                    sys.stdout.write(line)
            proc.wait()
    seconds = time.perf_counter() - start
    run_id = latest_run_id(settings, dag_id)
    if run_id is None or run_id == before:
        tail = log_file.read_text()[-3000:]
        return DagRunResult(
            "none",
            "not started",
            seconds,
            log_file=log_file,
            error=f"airflow dags test exited {proc.returncode} before a run started:\n{tail}",
            dag_id=dag_id,
        )
    state, runs = task_runs(settings, run_id, dag_id)
    return DagRunResult(run_id, state, seconds, runs, log_file, dag_id=dag_id)


def serve(settings: Settings) -> None:
    """Container entrypoint of the embedded profile: init, then ``airflow standalone`` (every component)."""
    init_airflow(settings)  # also writes the admin credentials
    os.execvpe(venv_bin(), [venv_bin(), "standalone"], _container_env(settings))


def _container_env(settings: Settings) -> dict[str, str]:
    """:func:`airflow_env` inside a container: the api-server listens on every interface of the container
    (published on the host's loopback only, by the compose file) and the workers reach it by its service name."""
    env = airflow_env(settings, api_port=int(os.environ.get("LAIP_AIRFLOW_PORT", "8080")))
    env["AIRFLOW__API__HOST"] = os.environ.get("LAIP_AIRFLOW_BIND", "0.0.0.0")
    if os.environ.get("LAIP_AIRFLOW_EXECUTION_API_URL"):
        env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = os.environ["LAIP_AIRFLOW_EXECUTION_API_URL"]
    return env


PROGRAMS = ("airflow", "celery")  # what the entrypoint runs with the platform's Airflow settings


def main(argv: list[str]) -> None:
    """``python -m laip.orchestration.airflow_run [standalone | init | airflow ARGS | celery ARGS]``: the Airflow
    image's entrypoint. ``init`` migrates and provisions once (the compose file's ``airflow-init``); ``airflow …`` /
    ``celery …`` replace this process with that command under the platform's settings (``airflow_env``, the
    production profile's from ``laip.profile``): one component per container, and their health checks."""
    from laip.config import load_settings

    settings = load_settings()
    if not argv or argv == ["standalone"]:
        serve(settings)
    elif argv == ["init"]:
        init_airflow(settings)
    elif argv[0] in PROGRAMS:
        program = venv_bin(argv[0])
        os.execvpe(program, [program, *argv[1:]], _container_env(settings))
    else:
        raise SystemExit(
            f"usage: python -m laip.orchestration.airflow_run [standalone | init | {' | '.join(PROGRAMS)} ARGS]"
        )


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main(sys.argv[1:])
