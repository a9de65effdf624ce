"""make up / make down: background processes by pid file; down stops only what up started."""

from __future__ import annotations

import subprocess
import sys
import time

from laip.config import Settings
from laip.services import stack as services
from laip.services.net import free_port


def test_start_waits_for_health_and_down_stops_only_its_pids(settings: Settings) -> None:
    port = free_port()
    svc = services.Service(
        "web",
        f"http://127.0.0.1:{port}/",
        f"http://127.0.0.1:{port}/",
        [services.Process("web", [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], {})],
        prepare=lambda: {"password": "printed"},
    )
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        info = services.start(settings, svc, timeout_s=30)
        assert info == {"url": f"http://127.0.0.1:{port}/", "password": "printed"}
        record = services.running(settings)["web"]
        # Starting again is idempotent: the running process is kept.
        services.start(settings, svc, timeout_s=30)
        assert services.running(settings)["web"]["pid"] == record["pid"]
        assert services.down(settings) == ["web"]
        time.sleep(0.2)
        assert services.running(settings) == {}
        assert bystander.poll() is None
    finally:
        bystander.kill()


def test_stale_pid_file_is_not_killed(settings: Settings) -> None:
    run = settings.home / "run"
    run.mkdir(parents=True)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        # A pid file whose pid now belongs to another program (pid reuse) is ignored and cleaned up.
        (run / "ghost.json").write_text(
            f'{{"pid": {other.pid}, "start_ticks": 1, "argv": ["/nonexistent/gunicorn"], "service": "x"}}'
        )
        assert services.down(settings) == []
        assert other.poll() is None and not (run / "ghost.json").exists()
    finally:
        other.kill()


def test_the_mlflow_server_starts_no_job_runner(settings: Settings) -> None:
    """The platform runs no MLflow server jobs: each server would otherwise keep a job runner and its Huey consumers
    polling (unless ops turn them on in the environment)."""
    from laip.services.mlflow_server import server_command

    for auth in (False, True):
        _, env = server_command(settings, "127.0.0.1", free_port(), auth=auth)
        assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
