"""Leakage safety, proven on real data for every checkpoint P: rewriting every event dated after day P changes no
feature of checkpoint P, and (for the default checkpoint, day 30) nothing of the intervention role's per-student
drill-down (weekly clicks and assessments as known on day 30).

For each P a second warehouse is built from the same sample. In it, before dbt runs, every click after day P is
deleted, every submission after day P is moved later and re-scored, every unregistration after day P is moved
later, every assessment due after day P is moved later, and every final result is swapped. The checkpoint-P rows
of the feature mart must be identical except for the target, and except for the prior_* columns of attempts whose
day P came after an earlier presentation had ended: the final results of that ended presentation were known by
their day P (a swapped past is a different past). The end-to-end variant that also compares predictions is in
test_ml_pipeline.py.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb
import pytest
from support.leakage import TARGET, changed_features, rewritten_raw_tables

from laip.config import Settings, load_settings
from laip.ingest.load import load
from laip.warehouse.build import run_dbt

MART = "marts.mart_withdrawal_prediction_features"
DRILL_DOWN = ("marts.fct_student_weekly_clicks_at_day_p", "marts.fct_student_assessments_at_day_p")
KEY = "code_module, code_presentation, id_student"
CHECKPOINTS = load_settings().checkpoints


def perturb_after(day: int) -> str:
    """SQL rewriting every raw event dated after ``day`` (and every final result) of a loaded warehouse."""
    return "".join(f"create or replace table raw.{t} as {q};\n" for t, q in rewritten_raw_tables(day).items())


def _features(warehouse: Path, day: int) -> tuple[list[str], list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cols = [r[0] for r in con.execute(f"describe {MART}").fetchall() if r[0] != TARGET]
        rows = con.execute(
            f"select {', '.join(cols)} from {MART} where prediction_day = {day} order by {KEY}"
        ).fetchall()
    return cols, rows


def _perturbed_home(home: Path, day: int, select: str) -> Settings:
    """The sample with every event after ``day`` rewritten, its models run (``select``) for the checkpoints ``day``
    and the default one (each checkpoint's rows depend on nothing of the others)."""
    from support.data import SAMPLE_DIR

    settings = load_settings(home=home)
    settings = dataclasses.replace(settings, checkpoints=tuple(sorted({day, settings.prediction_day})))
    load(SAMPLE_DIR, settings.warehouse, settings.reports_dir)
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute(perturb_after(day))
        changed = con.execute(f"select count(*) from raw.student_vle where date > {day}").fetchone()[0]
    assert changed == 0
    result = run_dbt(settings, "run", "--select", select)  # the models only: the sample's build ran their tests
    assert result.success, result.summary()
    return settings


@pytest.fixture(scope="module")
def perturbed(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The sample with every event after day 30 rewritten, built up to the day-30 marts and the drill-down."""
    select = " ".join(f"+{name.split('.')[1]}" for name in (MART, *DRILL_DOWN))
    return _perturbed_home(tmp_path_factory.mktemp("perturbed"), 30, select)


@pytest.mark.parametrize("day", CHECKPOINTS)
def test_events_after_each_checkpoint_change_no_feature_of_it(
    built_sample: Settings, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest, day: int
) -> None:
    if day == built_sample.prediction_day:
        rewritten_home: Settings = request.getfixturevalue("perturbed")
    else:
        rewritten_home = _perturbed_home(tmp_path_factory.mktemp(f"perturbed_{day}"), day, f"+{MART.split('.')[1]}")
    cols, original = _features(built_sample.warehouse, day)
    cols2, rewritten = _features(rewritten_home.warehouse, day)
    assert cols == cols2
    diffs = changed_features(cols, original, rewritten, day)
    assert not diffs, f"day {day}: {len(diffs)} feature values changed, e.g. {diffs[:5]}"


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
