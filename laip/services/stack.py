"""``make up`` / ``make down``: the local services, started in the background on 127.0.0.1, stopped by pid.

Each service runs in its own process group; its pid file (``$LAIP_HOME/run/<name>.json``) records the pid
and command line, so ``down`` stops only the processes ``up`` started (a recycled pid is left alone).
Logs go to ``$LAIP_HOME/logs/<name>.log``. Ports come from the environment (``LAIP_<NAME>_PORT``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from laip.config import Settings
from laip.credentials import API_TOKEN_FILE, mlflow_reader_credentials, secret_file
from laip.profile import MLFLOW_DB_URL, is_production, production_url
from laip.services.production import worker_processes

if TYPE_CHECKING:
    from laip.ml.config import MLConfig

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
PORTS = {"airflow": 8080, "mlflow": 5000, "superset": 8088, "api": 8000, "postgres": 5432, "redis": 6379}


def port(name: str) -> int:
    return int(os.environ.get(f"LAIP_{name.upper()}_PORT", PORTS[name]))


@dataclass
class Process:
    """One background process of a service."""

    name: str
    argv: list[str]
    env: dict[str, str]


@dataclass
class Service:
    name: str
    url: str
    health_url: str
    processes: list[Process]
    prepare: Callable[[], dict[str, str]] | None = None  # idempotent set-up; returns what to print
    info: dict[str, str] = field(default_factory=dict)


def _run_dir(settings: Settings) -> Path:
    return settings.home / "run"


def airflow_service(settings: Settings) -> Service:
    from laip.orchestration.airflow_run import admin_credentials, airflow_env, init_airflow, venv_bin

    p = port("airflow")
    env = airflow_env(settings, api_port=p)

    def prepare() -> dict[str, str]:
        init_airflow(settings)
        user, password = admin_credentials(settings)
        return {"username": user, "password": password, "dag": "laip_pipeline"}

    af = venv_bin()
    return Service(
        "airflow",
        f"http://{HOST}:{p}/",
        f"http://{HOST}:{p}/api/v2/monitor/health",
        [
            Process("airflow-api-server", [af, "api-server", "--host", HOST, "--port", str(p)], env),
            Process("airflow-scheduler", [af, "scheduler"], env),
            Process("airflow-dag-processor", [af, "dag-processor"], env),
            Process("airflow-triggerer", [af, "triggerer"], env),
            *(Process(*w) for w in (worker_processes(af, env) if is_production() else [])),  # Celery workers
        ],
        prepare,
    )


def mlflow_service(settings: Settings) -> Service:
    """The local default: ``mlflow ui`` on loopback, no login (single user; the production profile runs MLflow with
    basic authentication: :mod:`laip.services.mlflow_server`)."""
    from laip.ml.config import load_ml_config
    from laip.services.mlflow_server import ensure_reader, server_command

    p = port("mlflow")
    uri = settings.mlflow_tracking_uri
    auth = is_production()  # the server with logins over the profile's PostgreSQL; clients reach it at its URL
    backend = production_url(MLFLOW_DB_URL) if auth else uri
    argv, env = server_command(settings, HOST, p, auth=auth, backend_uri=backend)
    ml = load_ml_config(settings)
    return Service(
        "mlflow",
        f"http://{HOST}:{p}/",
        f"http://{HOST}:{p}/health",
        [Process("mlflow", argv, {**env, "MLFLOW_TRACKING_URI": uri})],
        (lambda: {"api account": f"{ensure_reader(settings, backend)} (read-only)"}) if auth else None,
        info={
            "runs": _runs_link(settings, f"http://{HOST}:{p}/", ml),
            "compare runs": "tick runs, then Compare",
            "models": f"Models > {ml.registered_model_name} (alias champion)",
        },
    )


def _runs_link(settings: Settings, base: str, ml: MLConfig) -> str:
    """The experiment's runs sorted by the key metric with the held-out metrics as columns (laip.ml.tracking's
    shared view), once a training created the experiment."""
    from laip.ml.tracking import key_metric, runs_url

    # a server (the production profile) is asked nothing before it runs: MLflow's client would retry for minutes
    if not settings.mlflow_tracking_uri.startswith("http"):
        with contextlib.suppress(Exception):  # no store or experiment yet: say where to look instead
            import mlflow

            found = mlflow.MlflowClient(settings.mlflow_tracking_uri).get_experiment_by_name(ml.experiment_name)
            if found is not None:
                return runs_url(base, found.experiment_id)
    return f"{base} > Experiments > {ml.experiment_name} (after the first training), sorted by {key_metric(ml)}"


def superset_service(settings: Settings) -> Service:
    from laip.services import superset as ss

    p = port("superset")
    argv, env = ss.server_command(settings, host=HOST, port=p)
    url = f"http://{HOST}:{p}/"
    return Service(
        "superset",
        url,
        ss.health_url(HOST, p),
        [Process("superset", argv, env)],
        lambda: {k: v for k, v in ss.prepare(settings).items() if k != "log"},
    )


def api_service(settings: Settings) -> Service:
    """The prediction API (``laip serve``): loads the MLflow champion; never trains."""
    from laip.orchestration.airflow_run import venv_bin

    p = port("api")
    argv = [venv_bin("laip"), "serve", "--host", HOST, "--port", str(p)]
    env = {**os.environ, "LAIP_HOME": str(settings.home)}
    if is_production():  # the champion is read through the MLflow server with the read-only account
        env["MLFLOW_TRACKING_USERNAME"], env["MLFLOW_TRACKING_PASSWORD"] = mlflow_reader_credentials(settings.home)
    return Service(
        "api",
        f"http://{HOST}:{p}/docs",
        f"http://{HOST}:{p}/health",
        [Process("api", argv, env)],
        info={
            "prediction log": str(settings.prediction_log_dir),
            "POST /model/reload": f'-H "Authorization: Bearer $(cat {secret_file(settings.home, API_TOKEN_FILE)})"',
        },
    )


SERVICES: dict[str, Callable[[Settings], Service]] = {
    "airflow": airflow_service,
    "mlflow": mlflow_service,
    "superset": superset_service,
    "api": api_service,
}


def _pid_file(settings: Settings, process: str) -> Path:
    return _run_dir(settings) / f"{process}.json"


def _start_ticks(pid: int) -> int | None:
    """Kernel start time of ``pid`` (/proc/<pid>/stat field 22): identifies a process across pid reuse."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def _alive(record: dict) -> bool:
    """True when the recorded pid is still the process ``up`` started (not a recycled pid)."""
    return record.get("start_ticks") is not None and _start_ticks(record["pid"]) == record["start_ticks"]


def running(settings: Settings) -> dict[str, dict]:
    out = {}
    for f in sorted(_run_dir(settings).glob("*.json")) if _run_dir(settings).is_dir() else []:
        record = json.loads(f.read_text())
        if _alive(record):
            out[f.stem] = record
        else:
            f.unlink(missing_ok=True)
    return out


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return resp.status < 500
    except (urllib.error.URLError, OSError):
        return False


def start(settings: Settings, service: Service, timeout_s: float = 180.0) -> dict[str, str]:
    """Prepare and start one service in the background; wait until its health URL answers."""
    info = service.prepare() if service.prepare else {}
    already = running(settings)
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    _run_dir(settings).mkdir(parents=True, exist_ok=True)
    children: dict[str, subprocess.Popen] = {}
    for proc in service.processes:
        if proc.name in already:
            log.info("%s already running (pid %s)", proc.name, already[proc.name]["pid"])
            continue
        logfile = (settings.logs_dir / f"{proc.name}.log").open("ab")
        child = subprocess.Popen(
            proc.argv,
            env=proc.env,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=settings.home,
        )
        children[proc.name] = child
        _pid_file(settings, proc.name).write_text(
            json.dumps(
                {
                    "pid": child.pid,
                    "start_ticks": _start_ticks(child.pid),
                    "argv": proc.argv,
                    "service": service.name,
                    "started": time.time(),
                }
            )
        )
        log.info("started %s (pid %s), log %s", proc.name, child.pid, logfile.name)
    deadline = time.monotonic() + timeout_s
    while not _healthy(service.health_url):
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{service.name} did not answer {service.health_url} within {timeout_s:.0f} s; see {settings.logs_dir}"
            )
        dead = [name for name, child in children.items() if child.poll() is not None]
        if dead:
            raise RuntimeError(f"{service.name}: {', '.join(dead)} exited; see {settings.logs_dir}/{dead[0]}.log")
        time.sleep(1)
    return {"url": service.url, **info, **service.info}


def up(settings: Settings, names: list[str] | None = None) -> dict[str, dict[str, str]]:
    """Start the named services (default: all) and return what to print for each."""
    return {name: start(settings, SERVICES[name](settings)) for name in (list(SERVICES) if names is None else names)}


def stop_pids(records: list[dict], grace_s: float = 20.0) -> None:
    """SIGTERM every recorded process group at once, then SIGKILL those still alive after ``grace_s``."""
    groups = []
    for record in records:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(record["pid"], signal.SIGTERM)
            groups.append(record["pid"])
    deadline = time.monotonic() + grace_s
    while groups and time.monotonic() < deadline:
        time.sleep(0.3)
        groups = [pid for pid in groups if _group_alive(pid)]
    for pid in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def _group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


def down(settings: Settings, names: list[str] | None = None) -> list[str]:
    """Stop what ``up`` started (only those pids, all at once); returns the processes stopped."""
    chosen = {p: r for p, r in running(settings).items() if not names or r["service"] in names}
    stop_pids(list(chosen.values()))
    for proc in chosen:
        _pid_file(settings, proc).unlink(missing_ok=True)
    return list(chosen)
