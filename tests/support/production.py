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

from laip.services.local_production import profile_environment
from laip.services.net import free_port
from laip.services.postgres_server import SERVICES, LocalPostgres
from laip.services.redis_server import LocalRedis

MLFLOW_PIPELINE = "mlflow-pipeline"  # passwords key of the pipeline's MLflow account


@dataclass
class ProductionServers:
    pg: LocalPostgres
    redis: LocalRedis
    passwords: dict[str, str]  # service -> its role's password; MLFLOW_PIPELINE -> the pipeline's MLflow login
    mlflow_url: str  # where the tests' MLflow server listens (started by the tests that need it)

    @property
    def env(self) -> dict[str, str]:
        """What every process of the production profile reads (``laip.profile``)."""
        env = profile_environment(self.pg, self.passwords, self.redis, self.mlflow_url)
        # the pipeline's MLflow account, as a deployment's .env gives it: every MLflow server of the session keeps
        # its accounts in the one PostgreSQL database, so they all share this password
        return {**env, "MLFLOW_TRACKING_PASSWORD": self.passwords[MLFLOW_PIPELINE]}

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
        pg,
        redis,
        {s: secrets.token_urlsafe(16) for s in (*SERVICES, MLFLOW_PIPELINE)},
        f"http://127.0.0.1:{free_port()}",
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
