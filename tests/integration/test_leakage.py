"""Leakage safety, proven on real data: rewriting every event dated after day 30 changes no day-30 feature, and
nothing of the intervention role's per-student drill-down (weekly clicks and assessments as known on day 30).

Two warehouses are built from the same sample. In the second, before dbt runs, every click after day 30 is
deleted, every submission after day 30 is moved later and re-scored, every unregistration after day 30 is
moved later, every assessment due after day 30 is moved later, and every final result is swapped. The
feature mart must be identical except for the target, and except for the prior_* columns of attempts whose day 30
came after an earlier presentation had ended: the final results of that ended presentation were known by their
day 30 (a swapped past is a different past). The end-to-end variant that also compares
predictions is in test_ml_pipeline.py.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from laip.config import Settings, load_settings
from laip.ingest.load import load
from laip.ml.features import presentation_ended_before
from laip.warehouse.build import build

MART = "marts.mart_withdrawal_prediction_features"
DRILL_DOWN = ("marts.fct_student_weekly_clicks_at_day_p", "marts.fct_student_assessments_at_day_p")
KEY = "code_module, code_presentation, id_student"
TARGET = "withdrew_after_day_30"

PERTURB = """
delete from raw.student_vle where date > 30;
update raw.student_assessment set score = 100 - coalesce(score, 50), date_submitted = date_submitted + 9
    where date_submitted > 30;
update raw.student_registration set date_unregistration = date_unregistration + 11 where date_unregistration > 30;
update raw.assessments set date = date + 5 where date > 30;
update raw.student_info set final_result = case final_result when 'Pass' then 'Fail' when 'Fail' then 'Distinction'
    when 'Distinction' then 'Pass' else final_result end;
"""


def _features(warehouse: Path) -> tuple[list[str], list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cols = [r[0] for r in con.execute(f"describe {MART}").fetchall() if r[0] != TARGET]
        rows = con.execute(f"select {', '.join(cols)} from {MART} order by {KEY}").fetchall()
    return cols, rows


@pytest.fixture(scope="module")
def perturbed(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The sample with every event after day 30 rewritten (PERTURB), built up to the day-30 marts."""
    from support.data import SAMPLE_DIR

    settings = load_settings(home=tmp_path_factory.mktemp("perturbed"))
    load(SAMPLE_DIR, settings.warehouse, settings.reports_dir)
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute(PERTURB)
        changed = con.execute("select count(*) from raw.student_vle where date > 30").fetchone()[0]
    assert changed == 0
    result = build(settings, select=" ".join(f"+{name.split('.')[1]}" for name in (MART, *DRILL_DOWN)))
    assert result.success, result.summary()
    return settings


def test_post_day30_events_change_no_feature(built_sample: Settings, perturbed: Settings) -> None:
    cols, original = _features(built_sample.warehouse)
    cols2, rewritten = _features(perturbed.warehouse)
    assert cols == cols2 and len(cols) > 20
    assert len(original) == len(rewritten) > 0
    presentations = {r[cols.index("code_presentation")] for r in original}
    has_past = {p for p in presentations if any(presentation_ended_before(q, p) for q in presentations)}
    assert any(c.startswith("prior_") for c in cols) and "2014J" in has_past and "2013B" not in has_past
    pres_col = cols.index("code_presentation")
    diffs = [
        (a[:3], c, x, y)
        for a, b in zip(original, rewritten, strict=False)
        for c, x, y in zip(cols, a, b, strict=False)
        if x != y and not (c.startswith("prior_") and a[pres_col] in has_past)
    ]
    assert not diffs, f"{len(diffs)} feature values changed, e.g. {diffs[:5]}"


@pytest.mark.parametrize("table", DRILL_DOWN)
def test_post_day30_events_change_nothing_of_the_drill_down(
    built_sample: Settings, perturbed: Settings, table: str
) -> None:
    def rows(warehouse: Path) -> list[tuple]:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return con.execute(f"select * from {table} order by all").fetchall()

    original, rewritten = rows(built_sample.warehouse), rows(perturbed.warehouse)
    assert len(original) > 1000
    changed = sorted(set(original) ^ set(rewritten))
    assert not changed, f"{len(changed)} rows differ, e.g. {changed[:3]}"
