"""``make up-prod``: the production profile on this machine, with a PostgreSQL and a Redis server of its own.

* The servers live under ``$LAIP_HOME/production``: ``postgres/`` (a PostgreSQL 15 cluster) and ``redis/``; both
  listen on 127.0.0.1 only (``LAIP_POSTGRES_PORT``, default 5432; ``LAIP_REDIS_PORT``, default 6379) and require
  passwords. As root, PostgreSQL runs as the ``postgres`` user, which cannot enter ``$LAIP_HOME`` (the owner's
  only): its cluster then lives in that user's home, ``/var/lib/postgresql/laip-<digest of $LAIP_HOME>``.
  ``LAIP_POSTGRES_DIR`` chooses another folder.
* The passwords are generated once into ``$LAIP_HOME/secrets`` (0600, :func:`laip.credentials.read_or_create`): the
  PostgreSQL superuser's, one per service role (``airflow_db_password``, ...) and Redis's.
* The profile's environment (``LAIP_PROFILE=production`` and the connection URLs, :mod:`laip.profile`) is written to
  ``$LAIP_HOME/production.env`` (0600): ``set -a; . $LAIP_HOME/production.env; set +a`` puts a shell's ``laip``
  commands on the same servers.

Against servers run elsewhere (a managed PostgreSQL, a Redis cluster), skip this module: set the same variables
and run ``make up`` (``docs/deployment.md``).
"""

from __future__ import annotations

import hashlib
import os
import pwd
from pathlib import Path

from laip import profile
from laip.config import Settings
from laip.credentials import read_or_create, secret_file
from laip.durable import atomic_write_text
from laip.services.postgres_server import SERVER_USER, SERVICES, LocalPostgres
from laip.services.redis_server import LocalRedis
from laip.services.stack import HOST, port

ENV_FILE = "production.env"
POSTGRES_DIR_ENV = "LAIP_POSTGRES_DIR"
SUPERUSER_SECRET = "postgres_superuser_password"
REDIS_SECRET = "redis_password"


def _dir(settings: Settings) -> Path:
    return settings.home / "production"


def db_secret(service: str) -> str:
    return f"{service}_db_password"


def postgres_dir(settings: Settings) -> Path:
    """Where this home's cluster lives (module docstring)."""
    if os.environ.get(POSTGRES_DIR_ENV):
        return Path(os.environ[POSTGRES_DIR_ENV])
    if os.geteuid() != 0:
        return _dir(settings) / "postgres"
    digest = hashlib.sha256(str(settings.home.resolve()).encode()).hexdigest()[:12]
    return Path(pwd.getpwnam(SERVER_USER).pw_dir) / f"laip-{digest}"


def postgres(settings: Settings) -> LocalPostgres:
    password = read_or_create(secret_file(settings.home, SUPERUSER_SECRET), 24)
    return LocalPostgres(postgres_dir(settings), port("postgres"), password)


def redis(settings: Settings) -> LocalRedis:
    password = read_or_create(secret_file(settings.home, REDIS_SECRET), 24)
    return LocalRedis(_dir(settings) / "redis", port("redis"), password)


def role_passwords(settings: Settings) -> dict[str, str]:
    return {s: read_or_create(secret_file(settings.home, db_secret(s)), 24) for s in SERVICES}


def profile_environment(
    pg: LocalPostgres, passwords: dict[str, str], server: LocalRedis, mlflow_url: str
) -> dict[str, str]:
    """What every process of the profile reads (``laip.profile``) to use these servers."""
    return {
        profile.PROFILE_ENV: "production",
        profile.AIRFLOW_DB_URL: pg.url("airflow", passwords["airflow"]),
        profile.SUPERSET_DB_URL: pg.url("superset", passwords["superset"]),
        profile.MLFLOW_DB_URL: pg.url("mlflow", passwords["mlflow"]),
        profile.REDIS_URL: server.url().rpartition("/")[0],
        profile.MLFLOW_TRACKING_URI: mlflow_url,
    }


def environment(settings: Settings) -> dict[str, str]:
    """The profile's environment for this home's servers and MLflow on ``LAIP_MLFLOW_PORT``."""
    mlflow_url = f"http://{HOST}:{port('mlflow')}"
    return profile_environment(postgres(settings), role_passwords(settings), redis(settings), mlflow_url)


def env_file(settings: Settings) -> Path:
    return settings.home / ENV_FILE


def start_servers(settings: Settings) -> dict[str, str]:
    """Start (or find running) this home's PostgreSQL and Redis, give each service its role and database (again:
    the init script is idempotent), write ``production.env``; returns that environment."""
    pg = postgres(settings)
    pg.init()
    if not pg.running():
        pg.start()
    pg.provision(role_passwords(settings))
    server = redis(settings)
    if server.running_pid() is None:
        server.start()
    env = environment(settings)
    lines = "".join(f"{key}='{value}'\n" for key, value in env.items())  # URL-quoted values: no quote inside
    header = "# The production profile's environment (make up-prod). Secrets: readable by the owner only.\n"
    atomic_write_text(env_file(settings), header + lines)  # 0600 from its first byte
    return env


def stop_servers(settings: Settings) -> list[str]:
    """Stop this home's Redis and PostgreSQL if they run; returns which were stopped."""
    stopped = []
    server = redis(settings)
    if server.running_pid() is not None:
        server.stop()
        stopped.append("redis")
    pg = postgres(settings)
    if pg.running():
        pg.stop()
        stopped.append("postgres")
    return stopped
