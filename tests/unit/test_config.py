"""Paths come from laip.yaml, overridden by LAIP_HOME / LAIP_DATA_DIR / MLFLOW_TRACKING_URI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from laip.config import REPO_ROOT, ConfigError, load_settings, parse_checkpoints


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


@pytest.mark.parametrize(
    ("value", "expected"),
    [([30, 14, 90], (14, 30, 90)), ([30], (30,)), ([0, 30], (0, 30))],
)
def test_checkpoints_are_sorted_course_days(value: list[int], expected: tuple[int, ...]) -> None:
    assert parse_checkpoints(value, 30, "domain.checkpoints") == expected


@pytest.mark.parametrize("value", [[14, 60], [14, 14, 30], [-7, 30], [30, 14.5], "30", [], None, ["x", 30]])
def test_bad_checkpoints_are_refused_naming_the_key(value: object) -> None:
    with pytest.raises(ConfigError, match=r"domain\.checkpoints must be a list of distinct course days"):
        parse_checkpoints(value, 30, "domain.checkpoints")


def test_default_checkpoints_reach_dbt_and_the_ml_config() -> None:
    from laip.ml.config import load_ml_config

    settings = load_settings()
    assert settings.prediction_day in settings.checkpoints and len(settings.checkpoints) > 1
    assert settings.dbt_vars()["checkpoints"] == list(settings.checkpoints)
    assert load_ml_config(settings).checkpoints == settings.checkpoints
