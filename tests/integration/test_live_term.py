"""A live term replayed week by week on the sample (``laip run --as-of``, ``laip backfill``): each date's run takes
the export as of that date, scores the running presentations at the checkpoints they reached, appends that date to
the risk history, and never changes an earlier week's rows; running a date again replaces exactly its rows."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from laip.config import Settings, load_settings

WEEKS = (date(2014, 10, 31), date(2014, 11, 7), date(2014, 11, 14))  # 2014J on course days 30, 37, 44
HISTORY = "ml.ml_withdrawal_risk_history"


def _laip(home: Path, *args: str) -> None:
    env = {**os.environ, "LAIP_HOME": str(home), "LAIP_ML_PROFILE": "quick"}
    env.pop("LAIP_DATA_DIR", None)
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.run([sys.executable, "-m", "laip", *args], env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]


def _rows(settings: Settings, where: str) -> list[tuple]:
    with duckdb.connect(str(settings.serving_warehouse), read_only=True) as con:
        return con.execute(f"select * exclude (scored_at) from {HISTORY} where {where} order by all").fetchall()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, list[tuple]]:
    """A home where the first week ran, then a backfill of the next two; with the first week's rows as published
    right after its own run."""
    from support.data import SAMPLE_DIR

    home = tmp_path_factory.mktemp("live") / "home"
    _laip(home, "run", "--as-of", WEEKS[0].isoformat(), "--replay-from", str(SAMPLE_DIR))
    settings = load_settings(home=home)
    first_week = _rows(settings, f"as_of_date = '{WEEKS[0]}'")
    _laip(
        home, "backfill", "--from", WEEKS[1].isoformat(), "--to", WEEKS[2].isoformat(), "--every", "7d",
        "--replay-from", str(SAMPLE_DIR),
    )  # fmt: skip
    return settings, first_week


def test_each_week_scores_the_running_presentations_at_the_checkpoints_they_reached(
    live: tuple[Settings, list[tuple]],
) -> None:
    settings, _ = live
    with duckdb.connect(str(settings.serving_warehouse), read_only=True) as con:
        history = con.execute(
            f"select as_of_date, code_presentation, max(prediction_day), count(*) from {HISTORY} "
            "group by all order by 1"
        ).fetchall()
        current = con.execute(
            "select distinct as_of_date, previous_export_date from ml.ml_withdrawal_risk_current"
        ).fetchall()
        listed = con.execute("select distinct code_presentation from ml.ml_withdrawal_risk_list").fetchall()
        manifest = con.execute("select distinct as_of_date from meta.load_manifest").fetchall()
    assert [(d, p) for d, p, *_ in history] == [(w, "2014J") for w in WEEKS]  # only the running presentations
    assert all(last <= (d - date(2014, 10, 1)).days for d, _, last, _ in history)  # checkpoints reached by then
    assert current == [(WEEKS[2], WEEKS[1])]  # the newest week's view, with the week before
    assert listed == [("2014J",)] and manifest == [(WEEKS[2],)]


def test_a_weeks_list_never_changes_when_later_weeks_arrive(live: tuple[Settings, list[tuple]]) -> None:
    settings, first_week = live
    assert first_week and _rows(settings, f"as_of_date = '{WEEKS[0]}'") == first_week


def test_running_a_week_again_replaces_exactly_its_rows(live: tuple[Settings, list[tuple]]) -> None:
    from support.data import SAMPLE_DIR

    settings, _ = live
    before = {w: _rows(settings, f"as_of_date = '{w}'") for w in WEEKS}
    _laip(settings.home, "run", "--as-of", WEEKS[1].isoformat(), "--replay-from", str(SAMPLE_DIR), "--retrain", "never")
    after = {w: _rows(settings, f"as_of_date = '{w}'") for w in WEEKS}
    assert after == before
    with duckdb.connect(str(settings.serving_warehouse), read_only=True) as con:
        assert con.execute("select distinct as_of_date from ml.ml_withdrawal_risk_current").fetchall() == [(WEEKS[2],)]
