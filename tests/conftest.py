"""Shared fixtures: isolated LAIP_HOME per test, the committed real-data sample, the full OULAD when present.

Tiers are folders: every test under ``tests/integration/`` is marked ``integration`` here (``make test`` runs
``-m "not integration"`` first, then ``-m "integration and not full_data"``); everything else is the fast tier. The
full-data tier (``-m full_data``, ``make test-full-data``) needs the real OULAD. ``make test`` runs the
integration tier on two pytest-xdist workers: ``support.workers`` groups, orders and isolates them.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import pytest
from support.data import FULL_DATA_DIR, SAMPLE_DIR
from support.workers import distribute, worker_environment, worker_index

from laip.config import Settings, load_settings
from laip.ml.tracking import environment_kept

INTEGRATION_DIR = Path(__file__).resolve().parent / "integration"


def pytest_configure(config: pytest.Config) -> None:
    index = worker_index()
    if index is not None:
        os.environ.update(worker_environment(index))


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_DIR in Path(item.fspath).resolve().parents:
            item.add_marker(pytest.mark.integration)
    if worker_index() is not None:
        distribute(items)


@pytest.fixture(autouse=True)
def _mlflow_environment_restored():
    """``mlflow.set_tracking_uri`` exports MLFLOW_TRACKING_URI / MLFLOW_REGISTRY_URI: a test calling it must not
    redirect the MLflow store of later tests (or of the processes they start)."""
    with environment_kept("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        yield


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh LAIP_HOME for one test."""
    h = tmp_path / "home"
    monkeypatch.setenv("LAIP_HOME", str(h))
    monkeypatch.delenv("LAIP_DATA_DIR", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return h


@pytest.fixture
def settings(home: Path) -> Settings:
    return load_settings()


@pytest.fixture
def sample_dir() -> Path:
    return SAMPLE_DIR


@pytest.fixture
def full_data_dir() -> Path:
    if not (FULL_DATA_DIR / "studentVle.csv.gz").is_file():
        pytest.skip(f"full OULAD not present at {FULL_DATA_DIR}")
    return FULL_DATA_DIR


@pytest.fixture
def plain_sample(tmp_path: Path) -> Path:
    """The sample decompressed to plain .csv files in a temp dir, ready to be broken by a test."""
    out = tmp_path / "raw"
    out.mkdir()
    for gz in SAMPLE_DIR.glob("*.csv.gz"):
        with gzip.open(gz, "rb") as src, (out / gz.name[:-3]).open("wb") as dst:
            shutil.copyfileobj(src, dst)
    return out
