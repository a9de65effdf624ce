"""A live term replayed week by week on the sample (``laip run --as-of``, ``laip backfill``): each date's run takes
the export as of that date, scores the running presentations at the checkpoints they reached, appends that date to
the risk history, and never changes an earlier week's rows; running a date again replaces exactly its rows."""

from __future__ import annotations

from datetime import date

import duckdb
from support.live_term import HISTORY, WEEKS, history_rows, laip_cli

from laip.config import Settings


def test_each_week_scores_the_running_presentations_at_the_checkpoints_they_reached(
    live_term: tuple[Settings, list[tuple]],
) -> None:
    settings, _ = live_term
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
        appended = con.execute(  # a backfill's week after week: the replayed click log is the week's increment
            "select delta_since, row_count from meta.load_manifest where file_name like 'studentVle%'"
        ).fetchall()
        published = con.execute("select as_of_date, freshness from meta.publication").fetchall()
    assert [(d, p) for d, p, *_ in history] == [(w, "2014J") for w in WEEKS]  # only the running presentations
    assert all(last <= (d - date(2014, 10, 1)).days for d, _, last, _ in history)  # checkpoints reached by then
    assert current == [(WEEKS[2], WEEKS[1])]  # the newest week's view, with the week before
    assert listed == [("2014J",)] and manifest == [(WEEKS[2],)]
    assert appended[0][0] == WEEKS[1] and appended[0][1] > 0
    # every dashboard tab's first line says which export the snapshot holds
    assert published[0][0] == WEEKS[2] and f" as of {WEEKS[2]} (a live term's export), loaded " in published[0][1]


def test_a_weeks_list_never_changes_when_later_weeks_arrive(live_term: tuple[Settings, list[tuple]]) -> None:
    settings, first_week = live_term
    assert first_week and history_rows(settings, f"as_of_date = '{WEEKS[0]}'") == first_week


def test_running_a_week_again_replaces_exactly_its_rows(live_term: tuple[Settings, list[tuple]]) -> None:
    from support.data import SAMPLE_DIR

    settings, _ = live_term
    before = {w: history_rows(settings, f"as_of_date = '{w}'") for w in WEEKS}
    week = WEEKS[1].isoformat()
    laip_cli(settings.home, "run", "--as-of", week, "--replay-from", str(SAMPLE_DIR), "--retrain", "never")
    after = {w: history_rows(settings, f"as_of_date = '{w}'") for w in WEEKS}
    assert after == before
    with duckdb.connect(str(settings.serving_warehouse), read_only=True) as con:
        assert con.execute("select distinct as_of_date from ml.ml_withdrawal_risk_current").fetchall() == [(WEEKS[2],)]
        freshness = con.execute("select freshness from meta.publication").fetchall()[0][0]
    # the snapshot holds the older export now, and says so, and that the risk list is still the newest week's
    assert f" as of {WEEKS[1]} (a live term's export); risk list as of {WEEKS[2]} (the newest run), " in freshness
