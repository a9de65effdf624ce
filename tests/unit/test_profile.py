"""The deployment profile switch (laip.profile): embedded by default, production only with every URL it needs, and
what Airflow and Superset make of it."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from laip import profile
from laip.orchestration.airflow_run import airflow_env

PRODUCTION = {
    profile.PROFILE_ENV: "production",
    profile.AIRFLOW_DB_URL: "postgresql+psycopg2://airflow:a%40pw@db:5432/airflow",
    profile.SUPERSET_DB_URL: "postgresql+psycopg2://superset:s-pw@db:5432/superset",
    profile.MLFLOW_DB_URL: "postgresql+psycopg2://mlflow:m-pw@db:5432/mlflow",
    profile.REDIS_URL: "redis://:r-pw@redis:6379",
    profile.MLFLOW_TRACKING_URI: "http://mlflow:5000",
}


def test_the_embedded_profile_is_the_default_and_anything_else_is_refused() -> None:
    assert profile.profile({}) == "embedded" and not profile.is_production({profile.PROFILE_ENV: " "})
    assert profile.airflow_overrides({}) == {}
    assert profile.airflow_metadata_url(Path("/h/airflow"), {}) == "sqlite:////h/airflow/airflow.db?timeout=60"
    with pytest.raises(profile.ProfileError, match="LAIP_PROFILE='prod': expected one of embedded, production"):
        profile.profile({profile.PROFILE_ENV: "prod"})


def test_production_names_the_variable_it_lacks() -> None:
    lacking = {k: v for k, v in PRODUCTION.items() if k != profile.AIRFLOW_DB_URL}
    with pytest.raises(profile.ProfileError, match="LAIP_PROFILE=production needs LAIP_AIRFLOW_DB_URL"):
        profile.airflow_overrides(lacking)


def test_airflow_runs_on_postgres_and_celery_in_production(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from laip.config import load_settings

    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    env = airflow_env(load_settings(home=tmp_path / "home"))
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == PRODUCTION[profile.AIRFLOW_DB_URL]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://:r-pw@redis:6379/0"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+postgresql+psycopg2://airflow:a%40pw@db:5432/airflow"
    monkeypatch.setenv(profile.PROFILE_ENV, "embedded")
    embedded = airflow_env(load_settings(home=tmp_path / "home"))
    assert embedded["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert embedded["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("sqlite:///")


def test_a_containers_airflow_component_runs_under_the_platforms_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docker-compose.yml runs ``python -m laip.orchestration.airflow_run airflow <component>`` per container."""
    from laip.orchestration import airflow_run

    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LAIP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LAIP_AIRFLOW_EXECUTION_API_URL", "http://airflow-apiserver:8080/execution/")
    started: list[tuple[str, list[str], dict[str, str]]] = []
    monkeypatch.setattr(airflow_run.os, "execvpe", lambda *call: started.append(call))
    airflow_run.main(["airflow", "scheduler"])
    program, argv, env = started[0]
    assert Path(program).name == "airflow" and argv[1:] == ["scheduler"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor" and env["AIRFLOW__API__HOST"] == "0.0.0.0"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    with pytest.raises(SystemExit, match=r"usage: python -m laip\.orchestration\.airflow_run"):
        airflow_run.main(["rm", "-rf", "/"])


def test_superset_keeps_metadata_in_postgres_and_caches_in_redis_in_production(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from laip.services import superset as ss

    monkeypatch.setenv("LAIP_SUPERSET_HOME", str(tmp_path / "superset"))
    monkeypatch.setenv("LAIP_SERVING_WAREHOUSE", "/x/laip.duckdb")
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("laip_superset_config_production", ss.CONFIG)
    assert spec is not None and spec.loader is not None
    config = importlib.util.module_from_spec(spec)
    umask = os.umask(0o022)
    try:
        spec.loader.exec_module(config)
    finally:
        os.umask(umask)
    assert config.SQLALCHEMY_DATABASE_URI == PRODUCTION[profile.SUPERSET_DB_URL]
    assert config.DATA_CACHE_CONFIG["CACHE_REDIS_URL"] == "redis://:r-pw@redis:6379/2"  # publish empties this one
    assert config.CACHE_CONFIG["CACHE_REDIS_URL"] == "redis://:r-pw@redis:6379/1"
    assert config.CELERY_CONFIG.broker_url == "redis://:r-pw@redis:6379/3"
    assert config.RATELIMIT_STORAGE_URI.startswith("redis://")
