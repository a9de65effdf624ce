"""The container deployment of the production profile: docker-compose.yml validates (Debian's docker-compose; no
Docker engine here) and gives each service exactly what the profile says it reads, and only the volumes it needs."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from laip import profile
from laip.config import REPO_ROOT
from laip.credentials import MLFLOW_READER_PASSWORD_ENV, MLFLOW_READER_USER
from laip.orchestration.dag_config import WAREHOUSE_QUEUE
from laip.services.production import DEFAULT_QUEUE, WORKER_CONCURRENCY, celery_worker_argv

# each compose service -> the laip.profile service whose variables it reads
FAMILY = {
    **{name: "airflow" for name in ("airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                                    "airflow-triggerer", "airflow-worker", "airflow-warehouse-worker")},
    **{name: "superset" for name in ("superset-init", "superset", "superset-worker")},
    "mlflow": "mlflow",
    "api": "api",
}  # fmt: skip
SERVERS = {"postgres", "redis"}
ENTRYPOINT = ["python", "-m", "laip.orchestration.airflow_run", "airflow"]


def _example_values() -> dict[str, str]:
    """.env.example with every empty value filled with a stand-in (the compose file refuses empty secrets)."""
    values = {}
    for line in (REPO_ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value or f"test{key.lower().replace('_', '')}"
    return values


def compose_config(tmp_path: Path, env: dict[str, str] | None) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.fail("docker-compose is missing: `make setup-tools` installs Debian's package")
    shutil.copy(REPO_ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    if env is not None:
        (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return subprocess.run([tool, "config"], cwd=tmp_path, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    proc = compose_config(tmp_path_factory.mktemp("compose"), _example_values())
    assert proc.returncode == 0, proc.stderr
    return yaml.safe_load(proc.stdout)["services"]


def test_the_profile_has_every_component_with_health_checks_and_ordered_start(services: dict) -> None:
    assert set(services) == set(FAMILY) | SERVERS
    for name, svc in services.items():
        once = name.endswith("-init")  # runs to completion; the others wait for it
        assert ("healthcheck" in svc and svc["healthcheck"].get("test") != ["NONE"]) != once, name
        for dependency, condition in svc.get("depends_on", {}).items():
            expected = "service_completed_successfully" if dependency.endswith("-init") else "service_healthy"
            assert condition["condition"] == expected, (name, dependency)
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)  # published on the host's loopback only
    for name in FAMILY.keys() - {"airflow-init", "superset-init", "mlflow", "api"}:
        assert set(services[name]["depends_on"]) >= {"postgres", "redis"}, name


def test_each_service_gets_exactly_the_profile_variables_it_reads(services: dict) -> None:
    urls = {profile.AIRFLOW_DB_URL, profile.SUPERSET_DB_URL, profile.MLFLOW_DB_URL, profile.REDIS_URL}
    urls.add(profile.MLFLOW_TRACKING_URI)
    for name, family in FAMILY.items():
        env = services[name]["environment"]
        assert env[profile.PROFILE_ENV] == "production", name
        assert {k for k in env if k in urls} == set(profile.SERVICE_VARIABLES[family]), name
        assert not [k for k in env if k.endswith("_DB_PASSWORD") or k == "POSTGRES_PASSWORD"], name
    for name in SERVERS:
        assert not {k for k in services[name].get("environment", {}) if k in urls}, name
    for name in ("airflow-scheduler", "api"):  # every client reaches MLflow through the server, logged in
        assert services[name]["environment"][profile.MLFLOW_TRACKING_URI] == "http://mlflow:5000"
        assert services[name]["environment"]["MLFLOW_TRACKING_PASSWORD"]
    assert "--auth" in services["mlflow"]["command"]
    # the API reads the champion with its own read-only account; only the pipeline's services hold the admin's
    api, mlflow = services["api"]["environment"], services["mlflow"]["environment"]
    assert api["MLFLOW_TRACKING_USERNAME"] == MLFLOW_READER_USER
    assert api["MLFLOW_TRACKING_PASSWORD"] == mlflow[MLFLOW_READER_PASSWORD_ENV]
    admin = services["airflow-scheduler"]["environment"]["MLFLOW_TRACKING_PASSWORD"]
    assert {n for n, s in services.items() if admin in s.get("environment", {}).values()} == {
        n for n, f in FAMILY.items() if f in ("airflow", "mlflow")
    }


def test_every_variable_the_compose_file_needs_is_listed_empty_in_the_example(tmp_path: Path) -> None:
    needed = set(re.findall(r"\$\{(\w+):\?", (REPO_ROOT / "docker-compose.yml").read_text()))
    assert needed <= set(_example_values()), needed - set(_example_values())
    for line in (REPO_ROOT / ".env.example").read_text().splitlines():
        key = line.partition("=")[0]
        if line and not line.startswith("#") and re.search("PASSWORD|SECRET|TOKEN", key):
            assert line.partition("=")[2] == "", line
    refused = compose_config(tmp_path, {k: v for k, v in _example_values().items() if k != "REDIS_PASSWORD"})
    assert refused.returncode != 0 and "set REDIS_PASSWORD in .env" in refused.stderr


def test_workers_match_the_routing_and_the_warehouse_worker_has_one_slot(services: dict) -> None:
    default = services["airflow-worker"]["command"]
    assert (
        default == ENTRYPOINT + celery_worker_argv("airflow", "airflow-worker", DEFAULT_QUEUE, WORKER_CONCURRENCY)[1:]
    )
    warehouse = services["airflow-warehouse-worker"]["command"]
    assert warehouse == ENTRYPOINT + celery_worker_argv("airflow", "airflow-warehouse-worker", WAREHOUSE_QUEUE, 1)[1:]
    assert services["airflow-worker"]["environment"]["LAIP_WORKER_NAME"] == "airflow-worker"
    assert services["airflow-warehouse-worker"]["environment"]["LAIP_WORKER_NAME"] == "airflow-warehouse-worker"


def _volumes(svc: dict) -> dict[str, str]:
    """volume name -> mode, for the named volumes of a service."""
    out = {}
    for spec in svc.get("volumes", []):
        source, _, rest = str(spec).partition(":")
        if not source.startswith("/"):
            out[source] = rest.rpartition(":")[2] if rest.count(":") else "rw"
    return out


def test_each_volume_is_shared_only_by_the_services_that_need_it(services: dict) -> None:
    mounted = {name: _volumes(svc) for name, svc in services.items()}
    users = {v: {n for n, vols in mounted.items() if v in vols} for vols in mounted.values() for v in vols}
    airflow = {n for n, f in FAMILY.items() if f == "airflow"}
    superset = {n for n, f in FAMILY.items() if f == "superset"}
    assert users["laip-home"] == airflow  # the warehouse: Airflow's containers only
    assert users["laip-serving"] == airflow | superset | {"api"}
    assert {n for n in users["laip-serving"] if mounted[n]["laip-serving"] == "rw"} == airflow  # publish writes it
    assert users["laip-predictions"] == airflow | {"api"}
    assert users["postgres-data"] == {"postgres"} and users["mlflow-home"] == {"mlflow"}
    assert users["superset-home"] == superset and users["api-home"] == {"api"}


def test_dockerfiles_exist_for_compose_builds() -> None:
    config = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    for svc in config["services"].values():
        if "build" in svc:
            assert (REPO_ROOT / svc["build"]["context"] / svc["build"]["dockerfile"]).is_file()
