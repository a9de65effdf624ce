"""A real pipeline run on the bundled sample, built once per test session and shared read-only."""

from __future__ import annotations

from pathlib import Path

import pytest

from laip.build import build
from laip.config import Settings, load_settings
from laip.load import load
from laip.publish import publish


def run_pipeline(home: Path, data_dir: Path) -> Settings:
    """load -> dbt build -> publish into ``home``; fails the test if any step fails."""
    s = load_settings(home=home)
    load(data_dir, s.warehouse, s.reports_dir, source="sample")
    result = build(s)
    assert result.success, result.summary()
    publish(s.warehouse, s.serving_warehouse)
    return s


@pytest.fixture(scope="session")
def built_sample(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from datasets import SAMPLE_DIR

    return run_pipeline(tmp_path_factory.mktemp("built") / "home", SAMPLE_DIR)
