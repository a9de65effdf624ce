"""The MLflow tracking server: open on loopback by default, with MLflow's basic authentication in production.

* Local default (``make up``): ``mlflow ui`` on 127.0.0.1 over the SQLite store, no login: one user, the operator
  (``docs/security.md``). Nothing the registry says is trusted without the training's signature anyway.
* Production profile (``docker compose``, or ``python -m laip.services.mlflow_server --auth``): ``mlflow server
  --app-name basic-auth``. Every request needs a login. The admin account is the pipeline's: training, scoring and
  monitoring log in with it (``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD``, MLflow's own client
  variables). Every other account gets READ by default (``default_permission``), so only the pipeline can create
  versions of the platform's registered model or move its ``champion`` alias. The API logs in as ``laip-api``, an
  account the server creates before it starts (:func:`ensure_reader`): it loads the champion and can move nothing.
  Artifacts go through the server (``--serve-artifacts``), so clients need no access to its files.

The pipeline account's password is ``MLFLOW_TRACKING_PASSWORD``, else generated once into
``$LAIP_HOME/secrets/mlflow_pipeline_password`` (0600). It reaches the server as ``MLFLOW_AUTH_ADMIN_PASSWORD`` in its
environment, never in a file or on a command line. The auth configuration is written to
``$LAIP_HOME/mlflow/basic_auth.ini`` (0600). The user store is ``$LAIP_HOME/mlflow/basic_auth.db`` (SQLite) beside a
SQLite tracking store; over PostgreSQL (the production profile) it is the tracking store's own database (its tables
``users``, ``roles``, ... and migration table ``alembic_version_auth`` do not clash with the tracking store's), so
accounts survive a lost server and are backed up with it. MLflow reads that URL only from the ini file, so the file
then holds the database password: owner-only, like every file under ``$LAIP_HOME``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from laip.config import Settings
from laip.credentials import mlflow_pipeline_credentials, mlflow_reader_credentials, read_or_create, secret_file
from laip.durable import atomic_write_text
from laip.profile import MLFLOW_DB_URL, is_production, production_url


def auth_store_uri(settings: Settings, backend_uri: str) -> str:
    """The user store: the tracking store's PostgreSQL database, else SQLite beside it (module docstring)."""
    return backend_uri if backend_uri.startswith("postgresql") else f"sqlite:///{settings.mlflow_dir / 'basic_auth.db'}"


def auth_config(settings: Settings, admin_user: str, backend_uri: str | None = None) -> Path:
    """Write the basic-auth configuration (READ for every account but the pipeline's admin; 0600)."""
    text = (
        "[mlflow]\n"
        "default_permission = READ\n"
        # configparser's interpolation reads "%%" as "%" (a URL-quoted password holds "%XX")
        f"database_uri = {auth_store_uri(settings, backend_uri or '').replace('%', '%%')}\n"
        f"admin_username = {admin_user}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "grant_default_workspace_access = false\n"
        # a PBKDF2 check per request made a training of ~400 calls wait 2 min: cache a login for a minute (one
        # worker, so a changed password is seen at once where it was changed, elsewhere within a minute)
        "auth_cache_ttl_seconds = 60\n"
    )
    return atomic_write_text(settings.mlflow_dir / "basic_auth.ini", text)


def backend_store_uri(settings: Settings, backend_uri: str | None = None) -> str:
    """``backend_uri``, else the platform's SQLite store under ``$LAIP_HOME/mlflow``."""
    return backend_uri or f"sqlite:///{settings.mlflow_dir / 'mlflow.db'}"


def ensure_reader(settings: Settings, backend_uri: str | None = None) -> str:
    """Create the API's read-only account in the user store, or set its password again (a rotated
    ``LAIP_MLFLOW_API_PASSWORD`` takes effect at the server's next start); returns its name. Not an admin, and no
    grant beyond ``default_permission = READ``."""
    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

    settings.mlflow_dir.mkdir(parents=True, exist_ok=True)
    user, password = mlflow_reader_credentials(settings.home)
    store = SqlAlchemyStore()
    store.init_db(auth_store_uri(settings, backend_store_uri(settings, backend_uri)))
    try:
        if store.has_user(user, use_primary=True):
            store.update_user(user, password=password, is_admin=False)
        else:
            store.create_user(user, password)
    finally:
        store.engine.dispose()
    return user


def server_command(
    settings: Settings, host: str, port: int, *, auth: bool, backend_uri: str | None = None
) -> tuple[list[str], dict[str, str]]:
    """argv and environment of the tracking server over ``backend_uri`` (default: the platform's SQLite store)."""
    mlflow = str(Path(sys.executable).with_name("mlflow"))
    uri = backend_store_uri(settings, backend_uri)
    settings.mlflow_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
    # no MLflow server jobs here (GenAI trace roll-ups, prompt optimisation): without this each server starts a job
    # runner and a handful of Huey consumers that poll for ever
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    if not auth:
        return [mlflow, "ui", "--backend-store-uri", uri, "--host", host, "--port", str(port), "--workers", "1"], env
    user, password = mlflow_pipeline_credentials(settings.home)
    env.update(
        {
            "MLFLOW_AUTH_CONFIG_PATH": str(auth_config(settings, user, uri)),
            "MLFLOW_AUTH_ADMIN_USERNAME": user,
            "MLFLOW_AUTH_ADMIN_PASSWORD": password,
            "MLFLOW_FLASK_SERVER_SECRET_KEY": read_or_create(secret_file(settings.home, "mlflow_flask_secret")),
            "MLFLOW_BACKEND_STORE_URI": uri,  # in the environment: a PostgreSQL URL holds a password
        }
    )
    argv = [
        mlflow,
        "server",
        "--app-name",
        "basic-auth",
        "--serve-artifacts",
        "--artifacts-destination",
        str(settings.mlflow_dir / "served-artifacts"),
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    return argv, env


def main(argv: list[str] | None = None) -> int:
    """``python -m laip.services.mlflow_server [--host H] [--port P] [--auth] [--backend-store-uri URI]``: run the
    tracking server in the foreground (the docker image's MLflow service)."""
    from laip.config import load_settings
    from laip.durable import keep_private

    parser = argparse.ArgumentParser(prog="python -m laip.services.mlflow_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--auth", action="store_true", help="MLflow's basic authentication (production profile)")
    parser.add_argument("--backend-store-uri", default=os.environ.get("LAIP_MLFLOW_BACKEND_URI"))
    args = parser.parse_args(argv)
    if args.backend_store_uri is None and is_production():  # the profile's PostgreSQL database
        args.backend_store_uri = production_url(MLFLOW_DB_URL)
    settings = load_settings()
    keep_private(settings.home)
    if args.auth:
        ensure_reader(settings, args.backend_store_uri)
    command, env = server_command(settings, args.host, args.port, auth=args.auth, backend_uri=args.backend_store_uri)
    os.execve(command[0], command, env)
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
