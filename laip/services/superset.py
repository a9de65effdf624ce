"""Superset as a LAIP service: provisioning and the web-server command, driven from the main environment.

Superset runs in its own environment (``.venv-superset``, made by ``make setup``), so this module only
uses the standard library and ``laip``: it runs ``superset/provision.py`` there and hands ``make up`` the
server command.

    creds = prepare(settings)                       # idempotent: metadata DB, admin, assets, roles
    argv, env = server_command(settings, port=8088) # gunicorn on 127.0.0.1
    health_url("127.0.0.1", 8088)                   # GET -> 200 "OK" once it serves

State (metadata DB, secret key, generated admin credentials) lives in ``settings.superset_home``.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from laip.config import REPO_ROOT, Settings

SUPERSET_DIR = REPO_ROOT / "superset"
VENV = Path(os.environ.get("LAIP_SUPERSET_VENV", REPO_ROOT / ".venv-superset"))
PROVISION = SUPERSET_DIR / "provision.py"
CONFIG = SUPERSET_DIR / "superset_config.py"
DASHBOARD_SLUG = "learning-analytics"
CREDENTIALS_FILE = "admin_credentials.json"


class SupersetError(RuntimeError):
    pass


def venv_python() -> Path:
    python = VENV / "bin" / "python"
    if not python.is_file():
        raise SupersetError(
            f"no Superset environment at {VENV}; run `make setup` (it builds .venv-superset "
            "from superset/requirements.lock)"
        )
    return python


def superset_env(settings: Settings) -> dict[str, str]:
    """Environment for every Superset process of this LAIP_HOME (provisioning and server)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")}
    env.update(
        {
            "LAIP_HOME": str(settings.home),
            "LAIP_SUPERSET_HOME": str(settings.superset_home),
            "LAIP_SERVING_WAREHOUSE": str(settings.serving_warehouse),
            "LAIP_MIN_GROUP_SIZE": str(settings.min_group_size),
            "LAIP_PREDICTION_DAY": str(settings.prediction_day),
            "SUPERSET_CONFIG_PATH": str(CONFIG),
            "FLASK_APP": "superset.app:create_app()",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PATH": f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    return env


def admin_credentials(settings: Settings) -> tuple[str, str, Path]:
    """(user, password, file): SUPERSET_ADMIN_USER / _PASSWORD, else generated once into an ignored 0600 file."""
    path = settings.superset_home / CREDENTIALS_FILE
    user = os.environ.get("SUPERSET_ADMIN_USER")
    password = os.environ.get("SUPERSET_ADMIN_PASSWORD")
    if user and password:
        return user, password, path
    stored: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
    if not stored:
        stored = {"username": "admin", "password": secrets.token_urlsafe(18)}
        settings.superset_home.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh)
    return user or stored["username"], password or stored["password"], path


def run_provision(settings: Settings, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 900) -> str:
    """Run ``superset/provision.py ARGS`` in the Superset environment; return its stdout."""
    env = superset_env(settings)
    env.update(extra_env or {})
    proc = subprocess.run(
        [str(venv_python()), str(PROVISION), *args],
        env=env,
        cwd=str(REPO_ROOT),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode:
        raise SupersetError(
            f"provision.py {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
        )
    return proc.stdout


def prepare(settings: Settings) -> dict[str, str]:
    """Make Superset ready to serve: metadata DB upgraded, admin, assets imported, roles. Idempotent.

    Returns what ``make up`` prints: admin ``username`` / ``password``, where they are kept, the dashboard path.
    """
    venv_python()
    settings.superset_home.mkdir(mode=0o700, parents=True, exist_ok=True)
    user, password, path = admin_credentials(settings)
    output = run_provision(
        settings, "setup", extra_env={"SUPERSET_ADMIN_USER": user, "SUPERSET_ADMIN_PASSWORD": password}
    )
    return {
        "username": user,
        "password": password,
        "credentials_file": str(path) if path.is_file() else "(from SUPERSET_ADMIN_USER / SUPERSET_ADMIN_PASSWORD)",
        "dashboard_path": f"/superset/dashboard/{DASHBOARD_SLUG}/",
        "serving_warehouse": str(settings.serving_warehouse),
        "log": output.strip(),
    }


def server_command(
    settings: Settings, host: str = "127.0.0.1", port: int = 8088, workers: int = 2, threads: int = 4
) -> tuple[list[str], dict[str, str]]:
    """argv and environment of the Superset web server (gunicorn, threaded workers), listening on ``host``."""
    gunicorn = VENV / "bin" / "gunicorn"
    venv_python()
    argv = [
        str(gunicorn),
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--timeout",
        "120",
        "--graceful-timeout",
        "10",
        "--limit-request-line",
        "0",
        "--limit-request-field_size",
        "0",
        "--access-logfile",
        "-",
        "--error-logfile",
        "-",
        "superset.app:create_app()",
    ]
    return argv, superset_env(settings)


def health_url(host: str = "127.0.0.1", port: int = 8088) -> str:
    return f"http://{host}:{port}/health"


def wait_healthy(url: str, timeout: float = 120.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SupersetError(f"Superset exited with {proc.returncode} before becoming healthy")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise SupersetError(f"Superset not healthy at {url} after {timeout:.0f} s")


def export(settings: Settings, out: Path | None = None) -> str:
    """Export the instance's assets as the normalised YAML bundle (default: over ``superset/assets``)."""
    return run_provision(settings, "export", *(["--out", str(out)] if out else []))


def charts_without_query_context(settings: Settings) -> list[int]:
    rows = json.loads(run_provision(settings, "list-charts"))
    return [r["id"] for r in rows if not r["has_query_context"]]


def main(argv: list[str] | None = None) -> int:
    """``python -m laip.services.superset prepare | serve | worker | export`` (development and the docker image;
    the compose file runs ``prepare`` once as ``superset-init``, then ``serve --no-prepare`` and ``worker``)."""
    import argparse

    from laip.config import load_settings

    parser = argparse.ArgumentParser(prog="python -m laip.services.superset")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("prepare", help="upgrade the metadata DB, admin, import assets, roles")
    p = sub.add_parser("serve", help="prepare, then run the web server in the foreground")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8088)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--no-prepare", action="store_true", help="serve only (superset-init prepared the metadata)")
    p = sub.add_parser("worker", help="Superset's Celery worker (async queries, alerts and reports; production)")
    p.add_argument("--concurrency", type=int, default=2)
    p = sub.add_parser("export", help="write the instance's assets to superset/assets (reviewable YAML)")
    p.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    settings = load_settings()
    if args.command == "export":
        missing = charts_without_query_context(settings)
        print(export(settings, args.out).strip())
        if missing:
            print(
                f"warning: charts {missing} have no saved query context (the chart-data API and the tests need "
                "one); open them once in Explore, or run: .venv-superset/bin/python superset/browser.py "
                f"query-contexts --url URL --chart-ids '{json.dumps(missing)}', then export again"
            )
        return 0
    if args.command == "worker":
        celery = str(VENV / "bin" / "celery")
        worker = [celery, "--app=superset.tasks.celery_app:app", "worker", "-O", "fair", "-c", str(args.concurrency)]
        os.execve(celery, worker, superset_env(settings))
    if getattr(args, "no_prepare", False):
        user, _, path = admin_credentials(settings)
        info = {
            "username": user,
            "credentials_file": str(path),
            "dashboard_path": f"/superset/dashboard/{DASHBOARD_SLUG}/",
        }
    else:
        info = prepare(settings)
        print(info.pop("log"))
    if args.command == "prepare":
        print(json.dumps(info, indent=2))
        return 0
    argv_, env = server_command(settings, args.host, args.port, workers=args.workers)
    # stdout of a container is a log: say where the password is kept, never the password itself
    print(
        f"Superset: http://{args.host}:{args.port}{info['dashboard_path']}  user {info['username']}  "
        f"password: {info['credentials_file']}",
        flush=True,
    )
    os.execve(argv_[0], argv_, env)
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
