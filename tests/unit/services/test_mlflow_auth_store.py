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
