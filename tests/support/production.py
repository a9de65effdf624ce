"""The production profile's servers, started by the tests themselves: a PostgreSQL 15 cluster (initdb into a
temporary directory, a free loopback port) with the three services' roles and databases, and a Redis server; the
environment that switches a process to the profile (``LAIP_PROFILE=production`` and the connection URLs)."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from laip import profile
from laip.services.net import free_port
from laip.services.postgres_server import SERVICES, LocalPostgres
from laip.services.redis_server import LocalRedis


@dataclass
class ProductionServers:
    pg: LocalPostgres
    redis: LocalRedis
    passwords: dict[str, str]  # service -> its role's password
    mlflow_url: str  # where the tests' MLflow server listens (started by the tests that need it)

    @property
    def env(self) -> dict[str, str]:
        """What every process of the production profile reads (``laip.profile``)."""
        return {
            profile.PROFILE_ENV: "production",
            profile.AIRFLOW_DB_URL: self.pg.url("airflow", self.passwords["airflow"]),
            profile.SUPERSET_DB_URL: self.pg.url("superset", self.passwords["superset"]),
            profile.MLFLOW_DB_URL: self.pg.url("mlflow", self.passwords["mlflow"]),
            profile.REDIS_URL: self.redis.url().rpartition("/")[0],
            profile.MLFLOW_TRACKING_URI: self.mlflow_url,
        }

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """The production profile in this process's environment for the block."""
        with mock.patch.dict(os.environ, self.env):
            yield

    def psql(self, service: str, sql: str, database: str | None = None) -> str:
        """``sql`` run as ``service``'s own role in ``database`` (default: its own)."""
        return self.pg.psql(sql, user=service, password=self.passwords[service], database=database or service)


@contextlib.contextmanager
def production_servers() -> Iterator[ProductionServers]:
    """Start PostgreSQL (provisioned by the compose file's init script) and Redis; stop and delete them after."""
    data_dir = Path(tempfile.mkdtemp(prefix="laip-pg-"))  # under /tmp: reachable by the postgres user as root
    work = Path(tempfile.mkdtemp(prefix="laip-redis-"))
    pg = LocalPostgres(data_dir, free_port(), secrets.token_urlsafe(16))
    redis = LocalRedis(work, free_port(), secrets.token_urlsafe(16))
    servers = ProductionServers(
        pg, redis, {s: secrets.token_urlsafe(16) for s in SERVICES}, f"http://127.0.0.1:{free_port()}"
    )
    try:
        pg.init()
        pg.start()
        pg.provision(servers.passwords)
        redis.start()
        yield servers
    finally:
        redis.stop()
        pg.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
