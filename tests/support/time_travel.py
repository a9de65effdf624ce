"""The time-travel proof: the feature rows a presentation gets at checkpoint P from the export as of the day it
reached P equal, column by column, the rows of checkpoint P built from the full history (nothing leaks from the
future, and a live term's features are the ones the models were trained on)."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import duckdb

from laip.config import Settings, load_settings
from laip.ingest.calendar import date_of_course_day
from laip.ingest.load import load
from laip.ingest.replay import replay
from laip.orchestration.tasks import validation_checks
from laip.warehouse.build import run_dbt

MART = "marts.mart_withdrawal_prediction_features"
TARGET = "withdrew_after_prediction_day"
KEY = "code_module, code_presentation, id_student"


def feature_rows(warehouse: Path, day: int, code_presentation: str) -> tuple[list[str], list[tuple]]:
    """(columns, rows) of checkpoint ``day`` of the presentations ``code_presentation`` (every module), target left
    out, in key order."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cols = [r[0] for r in con.execute(f"describe {MART}").fetchall() if r[0] != TARGET]
        rows = con.execute(
            f"select {', '.join(cols)} from {MART} where prediction_day = ? and code_presentation = ? order by {KEY}",
            [day, code_presentation],
        ).fetchall()
    return cols, rows


def build_as_of(src: Path, home: Path, as_of: date, checkpoints: tuple[int, ...]) -> Settings:
    """The export of ``src`` as of ``as_of``, loaded into ``home`` as a live export and the feature mart built (dbt
    run of it and its parents, for ``checkpoints`` only)."""
    settings = load_settings(home=home)
    settings = dataclasses.replace(settings, checkpoints=tuple(sorted({*checkpoints, settings.prediction_day})))
    export = home / "exports" / as_of.isoformat()
    replay(src, export, as_of, settings.presentation_start_day)
    load(export, settings.warehouse, settings.reports_dir, checks=validation_checks(settings, as_of))
    result = run_dbt(settings, "run", "--select", "+mart_withdrawal_prediction_features")
    assert result.success, result.summary()
    return settings


def differences(full: Path, live: Path, day: int, code_presentation: str) -> tuple[int, list[tuple]]:
    """(rows compared, the differing (key, column, full value, live value)) of checkpoint ``day`` of
    ``code_presentation`` between the full-history warehouse and the live one."""
    cols, expected = feature_rows(full, day, code_presentation)
    cols2, got = feature_rows(live, day, code_presentation)
    assert cols == cols2
    if len(expected) != len(got):
        keys = {r[:3] for r in expected} ^ {r[:3] for r in got}
        return len(expected), [(k, "row", k in {r[:3] for r in expected}, k in {r[:3] for r in got}) for k in keys]
    diffs = [
        (a[:3], c, x, y)
        for a, b in zip(expected, got, strict=True)
        for c, x, y in zip(cols, a, b, strict=True)
        if x != y and not (isinstance(x, float) and isinstance(y, float) and abs(x - y) <= 1e-9 * max(1, abs(x)))
    ]
    return len(expected), diffs


def as_of_dates(
    code_presentations: set[str], checkpoints: tuple[int, ...], start_day: int
) -> list[tuple[date, str, int]]:
    """(the date presentation code reached checkpoint P, code, P) for every code and checkpoint, by date."""
    return sorted((date_of_course_day(c, p, start_day), c, p) for c in code_presentations for p in checkpoints)
