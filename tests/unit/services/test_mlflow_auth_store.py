"""Where the MLflow server keeps its accounts: SQLite beside a SQLite store, the store's own PostgreSQL database in
the production profile, read back by MLflow's own configuration reader."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from unittest import mock

from laip.config import load_settings
from laip.services.mlflow_server import auth_config


def _read(path: Path) -> str:
    from mlflow.server.auth.config import read_auth_config

    with mock.patch.dict(os.environ, {"MLFLOW_AUTH_CONFIG_PATH": str(path)}):
        return read_auth_config().database_uri


def test_accounts_live_in_the_tracking_stores_postgres_database(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "home")
    url = "postgresql+psycopg2://mlflow:p%40ss%25w0rd@db:5432/mlflow"  # a URL-quoted password holds '%'
    path = auth_config(settings, "laip-pipeline", url)
    assert _read(path) == url
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds the database password
    local = auth_config(settings, "laip-pipeline", f"sqlite:///{settings.mlflow_dir / 'mlflow.db'}")
    assert _read(local) == f"sqlite:///{settings.mlflow_dir / 'basic_auth.db'}"


def test_the_apis_read_only_account_is_created_then_rekeyed_and_never_an_admin(tmp_path: Path) -> None:
    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

    from laip.credentials import MLFLOW_READER_PASSWORD_ENV, mlflow_reader_credentials
    from laip.services.mlflow_server import auth_store_uri, backend_store_uri, ensure_reader

    settings = load_settings(home=tmp_path / "home")
    assert ensure_reader(settings) == "laip-api"
    user, generated = mlflow_reader_credentials(settings.home)  # generated once into the home's secrets
    store = SqlAlchemyStore()
    store.init_db(auth_store_uri(settings, backend_store_uri(settings)))
    assert store.authenticate_user(user, generated) and not store.get_user(user).is_admin
    with mock.patch.dict(os.environ, {MLFLOW_READER_PASSWORD_ENV: "a-rotated-password-1"}):
        ensure_reader(settings)  # the next start with a rotated password
    assert store.authenticate_user(user, "a-rotated-password-1") and not store.authenticate_user(user, generated)
    assert [u.username for u in store.list_users()] == [user]
    store.engine.dispose()
