"""A PostgreSQL 15 cluster of the production profile on 127.0.0.1: ``make up-prod`` and the tests start their own.

:class:`LocalPostgres` initialises a cluster in a directory (``initdb``, once), starts and stops it (``pg_ctl``),
and provisions the three services' roles and databases with the same script the compose file's ``postgres``
service runs (``docker/postgres/init-laip-databases.sh``). PostgreSQL refuses to run as root: as root, every server
command runs as the ``postgres`` user (``runuser``), which then owns the cluster's directory.

The cluster listens on TCP 127.0.0.1 only (no Unix socket) and every login, the superuser's too, needs its
password (``scram-sha-256``); the passwords reach the server and ``psql`` through files and the environment, never a
command line.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from laip.services.net import wait_listening

HOST = "127.0.0.1"
SERVICES = ("airflow", "superset", "mlflow")  # one role and one database each (the init script's loop)
INIT_SCRIPT = Path(__file__).resolve().parents[2] / "docker" / "postgres" / "init-laip-databases.sh"
SERVER_USER = "postgres"  # who runs the server when we are root


def password_variable(service: str) -> str:
    """The environment variable holding ``service``'s database password (``AIRFLOW_DB_PASSWORD``, ...)."""
    return f"{service.upper()}_DB_PASSWORD"


def bin_dir() -> Path:
    """PostgreSQL's server programs (``initdb`` and ``pg_ctl`` sit on PATH or in Debian's versioned folder)."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "pg_ctl").is_file():
            return candidate
    raise FileNotFoundError("no PostgreSQL server programs (pg_ctl) on PATH or in /usr/lib/postgresql/*/bin")


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--", *argv] if os.geteuid() == 0 else argv


@dataclass
class LocalPostgres:
    """A cluster in ``data_dir`` on ``HOST:port``; ``superuser_password``: the ``postgres`` role's."""

    data_dir: Path
    port: int
    superuser_password: str

    def url(self, service: str, password: str, driver: str = "postgresql+psycopg2") -> str:
        """SQLAlchemy URL of ``service``'s database as its own role."""
        return f"{driver}://{service}:{quote(password, safe='')}@{HOST}:{self.port}/{service}"

    def _run(self, argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(argv, text=True, capture_output=True, check=False, **kwargs)  # type: ignore[call-overload]
        if proc.returncode:
            raise RuntimeError(f"`{' '.join(argv[:4])} ...` failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
        return proc

    def init(self) -> None:
        """``initdb`` into ``data_dir`` unless it holds a cluster already."""
        if (self.data_dir / "PG_VERSION").is_file():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if os.geteuid() == 0:  # the server will run as the postgres user: it must reach the cluster's folder
            reach = subprocess.run(_as_server_user(["test", "-x", str(self.data_dir.parent)]), check=False)
            if reach.returncode:
                raise PermissionError(
                    f"PostgreSQL runs as the {SERVER_USER} user, which cannot reach {self.data_dir.parent} (a folder "
                    "on the way is closed to others): choose a LAIP_HOME it can reach, or open those folders (o+x)"
                )
        with tempfile.NamedTemporaryFile("w", prefix="laip-pg-", suffix=".pw", delete=False) as pwfile:
            pwfile.write(self.superuser_password)
        try:
            if os.geteuid() == 0:
                user = pwd.getpwnam(SERVER_USER)
                os.chown(self.data_dir, user.pw_uid, user.pw_gid)
                os.chown(pwfile.name, user.pw_uid, user.pw_gid)
            self._run(
                _as_server_user(
                    [str(bin_dir() / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--pwfile", pwfile.name,
                     "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"]
                )
            )  # fmt: skip
        finally:
            os.unlink(pwfile.name)

    def start(self, timeout_s: float = 60) -> None:
        options = f"-c listen_addresses={HOST} -c port={self.port} -c unix_socket_directories=''"
        log = self.data_dir / "server.log"
        self._run(_as_server_user([str(bin_dir() / "pg_ctl"), "-D", str(self.data_dir), "-o", options, "-l", str(log),
                                   "-w", "-t", str(int(timeout_s)), "start"]))  # fmt: skip
        wait_listening(HOST, self.port, timeout_s)

    def running(self) -> bool:
        """True when this cluster's server is up (``pg_ctl status``)."""
        if not (self.data_dir / "postmaster.pid").is_file():
            return False
        status = [str(bin_dir() / "pg_ctl"), "-D", str(self.data_dir), "status"]
        return subprocess.run(_as_server_user(status), capture_output=True, check=False).returncode == 0

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").is_file():
            self._run(_as_server_user([str(bin_dir() / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "stop"]))

    def superuser_env(self) -> dict[str, str]:
        """libpq environment of the ``postgres`` superuser (for ``psql`` and the init script)."""
        return {"PGHOST": HOST, "PGPORT": str(self.port), "PGUSER": "postgres", "PGPASSWORD": self.superuser_password}

    def provision(self, passwords: dict[str, str]) -> None:
        """Create (or update) each service's role and database: the compose file's init script, run here."""
        env = {**os.environ, **self.superuser_env(), **{password_variable(s): passwords[s] for s in SERVICES}}
        env["PATH"] = f"{bin_dir()}:{env.get('PATH', '')}"
        self._run(["sh", str(INIT_SCRIPT)], env=env)

    def psql(self, sql: str, *, user: str = "postgres", password: str | None = None, database: str = "postgres") -> str:
        """Run ``sql`` with ``psql`` as ``user``; its unaligned output (raises RuntimeError with psql's message)."""
        env = {**os.environ, **self.superuser_env(), "PGUSER": user, "PGDATABASE": database}
        env["PGPASSWORD"] = password if password is not None else self.superuser_password
        psql = shutil.which("psql") or str(bin_dir() / "psql")
        return self._run([psql, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql], env=env).stdout.strip()
