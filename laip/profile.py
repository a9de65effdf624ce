"""The deployment profile: one switch, ``LAIP_PROFILE``, read by every process of the platform.

* ``embedded`` (the default): ``make up`` / ``make run`` on one machine: Airflow's LocalExecutor, and SQLite
  metadata for Airflow, Superset and MLflow under ``LAIP_HOME``.
* ``production`` (``docs/deployment.md``): metadata in PostgreSQL (a role and a database per service), Airflow's
  CeleryExecutor with a Redis broker, Superset's cache and Celery on Redis, MLflow as a server that every client
  reaches through its URL. The connection URLs, passwords included, come only from the environment (``.env`` in
  docker compose); each service gets only the variables it reads (:data:`SERVICE_VARIABLES`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


class ProfileError(ValueError):
    """The profile switch or a connection URL it needs is missing or wrong (the message names the variable)."""


PROFILE_ENV = "LAIP_PROFILE"
PROFILES = ("embedded", "production")

AIRFLOW_DB_URL = "LAIP_AIRFLOW_DB_URL"  # postgresql+psycopg2://airflow:...@host:5432/airflow
SUPERSET_DB_URL = "LAIP_SUPERSET_DB_URL"  # postgresql+psycopg2://superset:...@host:5432/superset
MLFLOW_DB_URL = "LAIP_MLFLOW_DB_URL"  # postgresql+psycopg2://mlflow:...@host:5432/mlflow (the MLflow server only)
REDIS_URL = "LAIP_REDIS_URL"  # redis://:password@host:6379 (no database number: each use has its own, below)
MLFLOW_TRACKING_URI = "MLFLOW_TRACKING_URI"  # http://host:5000, MLflow's own client variable
SQLITE_BUSY_TIMEOUT_S = 60  # the embedded profile's Airflow SQLite: seconds a connection waits for a lock

# Redis database numbers, one per use, so that clearing one (Superset's chart cache after a publish) spares the rest.
REDIS_DB = {"airflow_celery": 0, "superset_cache": 1, "superset_data_cache": 2, "superset_celery": 3}

# What each service's processes read in the production profile (the compose file gives each exactly these).
SERVICE_VARIABLES: dict[str, tuple[str, ...]] = {
    "airflow": (AIRFLOW_DB_URL, REDIS_URL, MLFLOW_TRACKING_URI),
    "superset": (SUPERSET_DB_URL, REDIS_URL),
    "mlflow": (MLFLOW_DB_URL,),
    "api": (MLFLOW_TRACKING_URI,),
}


def profile(env: Mapping[str, str] | None = None) -> str:
    """``embedded`` or ``production``; ProfileError naming the variable for anything else."""
    value = (os.environ if env is None else env).get(PROFILE_ENV, "").strip() or "embedded"
    if value not in PROFILES:
        raise ProfileError(f"{PROFILE_ENV}={value!r}: expected one of {', '.join(PROFILES)}")
    return value


def is_production(env: Mapping[str, str] | None = None) -> bool:
    return profile(env) == "production"


def production_url(variable: str, env: Mapping[str, str] | None = None) -> str:
    """The connection URL in ``variable``; ProfileError naming it when the production profile lacks it."""
    value = (os.environ if env is None else env).get(variable, "").strip()
    if not value:
        raise ProfileError(f"{PROFILE_ENV}=production needs {variable} in the environment (see docs/deployment.md)")
    return value


def redis_url(use: str, env: Mapping[str, str] | None = None) -> str:
    """``LAIP_REDIS_URL`` with the database number of ``use`` (a key of :data:`REDIS_DB`)."""
    return f"{production_url(REDIS_URL, env).rstrip('/')}/{REDIS_DB[use]}"


def celery_result_backend(airflow_db_url: str) -> str:
    """Celery's result backend in Airflow's own database (``db+postgresql+psycopg2://...``, as Airflow's compose file
    but with the driver kept: SQLAlchemy 2.1's default for ``postgresql://`` is psycopg 3, not installed)."""
    return f"db+{airflow_db_url}"


def airflow_metadata_url(airflow_home: Path, env: Mapping[str, str] | None = None) -> str:
    """Airflow's metadata database: PostgreSQL in the production profile, else SQLite in ``airflow_home``, whose
    connections wait up to :data:`SQLITE_BUSY_TIMEOUT_S` for another process's write (sqlite3's default is 5 s: on a
    loaded machine the scheduler's loop then failed with "database is locked" and the scheduler exited)."""
    if is_production(env):
        return production_url(AIRFLOW_DB_URL, env)
    return f"sqlite:///{airflow_home / 'airflow.db'}?timeout={SQLITE_BUSY_TIMEOUT_S}"


def airflow_overrides(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Airflow's settings in the production profile: PostgreSQL metadata, the CeleryExecutor with a Redis broker and
    its results in the metadata database (as Airflow's own compose file); nothing in the embedded profile."""
    if not is_production(env):
        return {}
    database = production_url(AIRFLOW_DB_URL, env)
    return {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database,
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": redis_url("airflow_celery", env),
        "AIRFLOW__CELERY__RESULT_BACKEND": celery_result_backend(database),
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "laip.profile.worker_hostname",  # which worker ran a task, in the UI
    }


def worker_hostname() -> str:
    """The task instance's hostname: the Celery worker's name (``LAIP_WORKER_NAME``) on this machine, else the
    machine's name (Airflow's default)."""
    import socket

    name = os.environ.get("LAIP_WORKER_NAME")
    return f"{name}@{socket.gethostname()}" if name else socket.getfqdn()
