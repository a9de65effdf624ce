"""Full-data tier: the real OULAD in ../shared/data/oulad (skipped when absent) validates, loads and builds."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from laip.config import load_settings
from laip.ingest.load import load
from laip.ingest.validate import validate
from laip.warehouse.build import build

pytestmark = pytest.mark.full_data

# Row counts of SOURCE.md (headers excluded).
SOURCE_ROWS = {
    "courses": 22,
    "assessments": 206,
    "vle": 6364,
    "studentInfo": 32593,
    "studentRegistration": 32593,
    "studentAssessment": 173912,
    "studentVle": 1047523,
}


def test_full_oulad_validates_loads_and_builds(full_data_dir: Path, tmp_path: Path) -> None:
    report = validate(full_data_dir)
    assert report.ok, report.summary()
    assert {f.stem: f.rows for f in report.files} == SOURCE_ROWS
    assert report.missing_values["studentInfo"]["imd_band"] == 1111
    assert report.missing_values["studentRegistration"] == {"date_registration": 45, "date_unregistration": 22521}
    status = {(c["code_module"], c["code_presentation"]): c["status"] for c in report.click_coverage}
    assert sum(s == "missing" for s in status.values()) == 18 and status[("BBB", "2013J")] == "partial"

    s = load_settings(home=tmp_path / "home")
    load(full_data_dir, s.warehouse, s.reports_dir, source="given")
    result = build(s)
    assert result.success, result.summary()
    with duckdb.connect(str(s.warehouse), read_only=True) as con:
        n_attempts = con.execute("select count(*) from marts.dim_student_module").fetchone()[0]
        n_pop, base_rate = con.execute(
            "select count(*), avg(withdrew_after_prediction_day::int) from marts.mart_withdrawal_prediction_features "
            "where prediction_day = 30"
        ).fetchone()
    assert n_attempts == 32593
    assert 20000 < n_pop < n_attempts and 0.1 < base_rate < 0.3
