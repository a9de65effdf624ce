"""The dbt warehouse built from the real sample: marts exist, coverage is data, click gaps are NULL."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from laip.config import Settings

MARTS = (
    "dim_module_presentation",
    "dim_student_module",
    "fct_course_engagement_daily",
    "fct_assessment_performance",
    "fct_student_engagement_summary",
    "fct_student_assessment_summary",
    "mart_student_success_features",
    "mart_withdrawal_prediction_features",
    "mart_learning_funnel",
    "fct_weekly_engagement",
)


def test_marts_exist_with_rows(built_sample: Settings) -> None:
    with duckdb.connect(str(built_sample.warehouse), read_only=True) as con:
        for mart in MARTS:
            assert con.execute(f"select count(*) from marts.{mart}").fetchone()[0] > 0, mart


def test_click_coverage_is_detected_from_data(built_sample: Settings) -> None:
    with duckdb.connect(str(built_sample.warehouse), read_only=True) as con:
        rows = dict(
            con.execute(
                "select code_module || ' ' || code_presentation, coverage_status from marts.dim_module_presentation"
            ).fetchall()
        )
    assert rows == {
        "AAA 2013J": "complete",
        "AAA 2014J": "complete",
        "BBB 2013B": "complete",
        "BBB 2013J": "partial",
        "GGG 2013J": "missing",
        "GGG 2014J": "missing",
    }


def test_missing_click_log_is_null_never_zero(built_sample: Settings) -> None:
    with duckdb.connect(str(built_sample.warehouse), read_only=True) as con:
        ggg = con.execute("""select count(*), count(total_clicks),
                                    count(*) filter (where engagement_band = 'no click data')
                             from marts.fct_student_engagement_summary where code_module = 'GGG'""").fetchone()
        feats = con.execute("""select count(*), count(clicks_total) filter (where not has_click_data),
                                      count(clicks_total) filter (where has_click_data)
                               from marts.mart_withdrawal_prediction_features""").fetchone()
    assert ggg[0] > 0 and ggg[1] == 0 and ggg[2] == ggg[0]
    assert feats[1] == 0 and feats[2] > 0


def test_day30_population_and_target(built_sample: Settings) -> None:
    with duckdb.connect(str(built_sample.warehouse), read_only=True) as con:
        bad = con.execute("""select count(*) from marts.mart_withdrawal_prediction_features f
                             join raw.student_registration r using (code_module, code_presentation, id_student)
                             where f.prediction_day = 30
                               and (r.date_unregistration <= 30 or r.date_registration > 30)""").fetchone()[0]
        expected = con.execute("""select count(*) from raw.student_registration
                                  where (date_registration is null or date_registration <= 30)
                                    and (date_unregistration is null or date_unregistration > 30)""").fetchone()[0]
        n, positives = con.execute(
            "select count(*), sum(withdrew_after_prediction_day::int) from marts.mart_withdrawal_prediction_features "
            "where prediction_day = 30"
        ).fetchone()
    assert bad == 0 and n == expected and 0 < positives < n


def test_serving_snapshot_holds_only_governed_schemas(built_sample: Settings) -> None:
    with duckdb.connect(str(built_sample.serving_warehouse), read_only=True) as con:
        schemas = {r[0] for r in con.execute("select distinct schema_name from duckdb_tables()").fetchall()}
        n = con.execute("select count(*) from marts.mart_student_success_features").fetchone()[0]
    assert schemas <= {"marts", "ml", "meta"} and "marts" in schemas and n > 0


def test_publish_refuses_a_build_of_another_load(built_sample: Settings, tmp_path: Path) -> None:
    """The build records the load it ran on; a warehouse holding another load is not published."""
    from laip.warehouse.publish import PublishError, publish

    warehouse = tmp_path / "laip.duckdb"
    shutil.copy2(built_sample.warehouse, warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        built_on = con.execute("select load_id from meta.build_status order by finished_at desc limit 1").fetchall()
    assert built_on[0][0]  # recorded by the build
    with duckdb.connect(str(warehouse)) as con:
        con.execute("update meta.load_manifest set load_id = 'another-load'")
    with pytest.raises(PublishError, match="ran on load"):
        publish(warehouse, tmp_path / "serving.duckdb")
    assert not (tmp_path / "serving.duckdb").exists()
