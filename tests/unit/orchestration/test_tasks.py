"""The steps the DAG calls are plain functions: tested here without Airflow."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from support.bad_input import orphan_foreign_key

from laip.config import Settings
from laip.orchestration import tasks
from laip.warehouse.build import parse


def test_validate_raw_fails_clearly_on_bad_input(settings: Settings, plain_sample: Path) -> None:
    orphan_foreign_key(plain_sample)
    with pytest.raises(tasks.StepFailed) as exc:
        tasks.validate_raw(settings, plain_sample)
    assert "studentVle.csv" in str(exc.value) and "id_site" in str(exc.value) and "201" in str(exc.value)


def test_a_loaded_but_unbuilt_warehouse_is_never_certified_or_published(settings: Settings, sample_dir: Path) -> None:
    """certify_build (what the DAG runs after its dbt group) checks that the models of the build are there: a load
    between the dbt task and certify swaps in a file with raw data only, which must never be certified."""
    xcom = tasks.report(tasks.validate_raw(settings, sample_dir))
    assert xcom["rows"]["studentVle"] == 447_314 and xcom["warnings"] > 0  # click-coverage warnings
    assert tasks.load_raw(settings, sample_dir).changed
    assert tasks.load_raw(settings, sample_dir).as_xcom()["changed"] is False  # idempotent
    with pytest.raises(tasks.StepFailed, match="no dbt build"):
        tasks.publish(settings)
    with pytest.raises(tasks.StepFailed, match="no dbt manifest"):
        tasks.certify_build(settings)
    parse(settings)
    with pytest.raises(tasks.StepFailed, match=r"models of the dbt build are not in .*load in between"):
        tasks.certify_build(settings)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert not con.execute(
            "select * from duckdb_tables() where schema_name = 'meta' and table_name = 'build_status'"
        ).fetchall()
    with pytest.raises(tasks.StepFailed, match="no dbt build"):
        tasks.publish(settings)
