"""Paths come from laip.yaml, overridden by LAIP_HOME / LAIP_DATA_DIR / MLFLOW_TRACKING_URI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from laip.config import REPO_ROOT, load_settings


def test_defaults_live_under_home(home: Path) -> None:
    s = load_settings()
    assert s.home == home
    for p in (s.warehouse, s.serving_warehouse, s.reports_dir, s.airflow_home, s.mlflow_dir):
        assert home in p.parents
    assert s.mlflow_tracking_uri == f"sqlite:///{home}/mlflow/mlflow.db"
    assert s.data_dir == REPO_ROOT / "data" / "raw" and s.data_dir_is_default


def test_mlflow_uri_env_override(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////tmp/x.db")
    assert load_settings().mlflow_tracking_uri == "sqlite:////tmp/x.db"


def test_info_json_cli(home: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "laip", "info", "--json"], check=True, capture_output=True, text=True)
    info = json.loads(out.stdout)
    assert {"data_dir", "warehouse", "mlflow_tracking_uri"} <= info.keys()
    assert info["warehouse"].startswith(str(home))
    assert info["status"]["warehouse_exists"] is False
