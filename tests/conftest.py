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
import tempfile
from pathlib import Path

import pytest
from support.data import FULL_DATA_DIR, SAMPLE_DIR
from support.workers import GROUPS_FILE, GroupScheduling, distribute, worker_environment, worker_index

from laip.config import Settings, load_settings
from laip.ml.tracking import environment_kept

INTEGRATION_DIR = Path(__file__).resolve().parent / "integration"


def pytest_configure(config: pytest.Config) -> None:
    index = worker_index()
    if index is not None:
        os.environ.update(worker_environment(index))


@pytest.hookimpl(optionalhook=True)  # xdist's hooks: a run with -p no:xdist has none
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> GroupScheduling | None:
    """``--dist loadgroup``: the groups of support.workers (the workers write them where ``groups_file`` says)."""
    if config.getoption("dist") != "loadgroup":
        return None
    return GroupScheduling(config, log, _groups_file(config))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: object) -> None:
    node.workerinput[GROUPS_FILE] = str(_groups_file(node.config))  # type: ignore[attr-defined]


def _groups_file(config: pytest.Config) -> Path:
    if not hasattr(config, "_laip_groups_file"):
        config._laip_groups_file = Path(tempfile.mkdtemp(prefix="laip-groups-")) / "groups.json"  # type: ignore[attr-defined]
    return config._laip_groups_file  # type: ignore[attr-defined,no-any-return]


def pytest_unconfigure(config: pytest.Config) -> None:
    if hasattr(config, "_laip_groups_file"):
        shutil.rmtree(config._laip_groups_file.parent, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_DIR in Path(item.fspath).resolve().parents:
            item.add_marker(pytest.mark.integration)
    groups_file = getattr(config, "workerinput", {}).get(GROUPS_FILE)
    if groups_file:
        distribute(items, Path(groups_file))


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
