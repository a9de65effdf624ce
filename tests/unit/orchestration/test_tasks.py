"""The steps the DAG calls are plain functions: tested here without Airflow."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from support.bad_input import orphan_foreign_key

from laip.config import Settings
from laip.orchestration import tasks


def test_validate_raw_fails_clearly_on_bad_input(settings: Settings, plain_sample: Path) -> None:
    orphan_foreign_key(plain_sample)
    with pytest.raises(tasks.StepFailed) as exc:
        tasks.validate_raw(settings, plain_sample)
    assert "studentVle.csv" in str(exc.value) and "id_site" in str(exc.value) and "201" in str(exc.value)


def test_load_then_certify_makes_the_warehouse_publishable_only_after_a_build(
    settings: Settings, sample_dir: Path
) -> None:
    xcom = tasks.report(tasks.validate_raw(settings, sample_dir))
    assert xcom["rows"]["studentVle"] == 447_314 and xcom["warnings"] > 0  # click-coverage warnings
    assert tasks.load_raw(settings, sample_dir).changed
    assert tasks.load_raw(settings, sample_dir).as_xcom()["changed"] is False  # idempotent
    with pytest.raises(tasks.StepFailed, match="no dbt build"):
        tasks.publish(settings)
    tasks.certify_build(settings)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert con.execute("select success from meta.build_status").fetchall() == [(True,)]
