"""The container deployment: docker-compose.yml validates (Debian's docker-compose) and wires what it must."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from laip.config import REPO_ROOT


def compose_config(tmp_path: Path) -> dict:
    """The compose file as `docker-compose config` resolves it (with .env.example as .env); fails when invalid."""
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.fail("docker-compose is missing: `make setup-tools` installs Debian's package")
    shutil.copy(REPO_ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    shutil.copy(REPO_ROOT / ".env.example", tmp_path / ".env")
    proc = subprocess.run([tool, "config"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return yaml.safe_load(proc.stdout)


def test_compose_file_is_valid(tmp_path: Path) -> None:
    config = compose_config(tmp_path)
    airflow = config["services"]["airflow"]
    assert "laip-home" in config["volumes"]
    assert any(str(v).startswith("laip-home:/var/lib/laip") for v in airflow["volumes"])
    for name, svc in config["services"].items():
        assert "healthcheck" in svc, f"{name} has no health check"
        for port in svc.get("ports", []):
            assert str(port.get("host_ip", "127.0.0.1") if isinstance(port, dict) else port).startswith("127.0.0.1")


def test_dockerfiles_exist_for_compose_builds() -> None:
    config = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    for svc in config["services"].values():
        if "build" in svc:
            assert (REPO_ROOT / svc["build"]["context"] / svc["build"]["dockerfile"]).is_file()


def test_no_secrets_in_the_example_env() -> None:
    for line in (REPO_ROOT / ".env.example").read_text().splitlines():
        if (line and not line.startswith("#") and "PASSWORD" in line) or "SECRET" in line.split("=")[0]:
            assert line.split("=", 1)[1] == "", line


def test_api_service_shares_the_store_and_waits_for_mlflow(tmp_path: Path) -> None:
    services = compose_config(tmp_path)["services"]
    assert {"airflow", "mlflow", "superset", "api"} <= set(services)
    api = services["api"]
    assert api["build"]["dockerfile"] == "docker/api.Dockerfile"
    assert any(str(v).startswith("laip-home:/var/lib/laip") for v in api["volumes"])
    assert api["environment"]["MLFLOW_TRACKING_URI"] == services["mlflow"]["environment"]["MLFLOW_TRACKING_URI"]
    assert api["depends_on"]["mlflow"]["condition"] == "service_healthy"
    assert "/health" in " ".join(api["healthcheck"]["test"])
    assert "8000" in str(api["ports"][0])


def test_mlflow_needs_a_login_in_the_container_profile(tmp_path: Path) -> None:
    """Production profile: the tracking server runs MLflow's basic authentication and every client goes through it."""
    services = compose_config(tmp_path)["services"]
    assert "--auth" in services["mlflow"]["command"]
    for name in ("airflow", "api"):
        assert services[name]["environment"]["MLFLOW_TRACKING_URI"] == "http://mlflow:5000", name
    assert services["airflow"]["depends_on"]["mlflow"]["condition"] == "service_healthy"
