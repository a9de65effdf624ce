"""The export as of a date (laip replay): what a university's export on that day would have held, validated as a
live export; the full history's own rows once every presentation has ended."""

from __future__ import annotations

import csv
import gzip
from datetime import date
from pathlib import Path

import duckdb
import pytest

from laip.config import Settings
from laip.ingest.calendar import course_day
from laip.ingest.load import load
from laip.ingest.replay import replay
from laip.ingest.rules import Checks
from laip.ingest.validate import validate

AS_OF = date(2014, 3, 2)  # day 152 of the 2013J presentations, after the end of BBB 2013B, before 2014J


def _rows(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from support.data import SAMPLE_DIR

    dest = tmp_path_factory.mktemp("replay") / "2014-03-02"
    result = replay(SAMPLE_DIR, dest, AS_OF)
    assert result.running == ["AAA 2013J", "BBB 2013J", "GGG 2013J"] and result.ended == ["BBB 2013B"]
    return dest


def test_the_export_holds_only_what_was_known_that_day(export: Path) -> None:
    info = _rows(export / "studentInfo.csv.gz")
    assert {r["code_presentation"] for r in info} == {"2013B", "2013J"}  # 2014J has not started
    assert {r["final_result"] for r in info if r["code_presentation"] == "2013J"} == {""}
    assert "" not in {r["final_result"] for r in info if r["code_presentation"] == "2013B"}
    for r in _rows(export / "studentRegistration.csv.gz"):
        day = course_day(r["code_presentation"], AS_OF)
        assert r["date_registration"] == "" or int(r["date_registration"]) <= day
        assert r["date_unregistration"] == "" or int(r["date_unregistration"]) <= day
    assert max(int(r["date"]) for r in _rows(export / "studentVle.csv.gz") if r["code_presentation"] == "2013J") == 152
    assert len(_rows(export / "courses.csv.gz")) == 6  # static tables as they are


def test_it_validates_as_a_live_export_and_only_as_one(export: Path) -> None:
    live = validate(export, Checks(as_of=AS_OF))
    assert live.ok, live.summary()
    coverage = {(c["code_module"], c["code_presentation"]): c for c in live.click_coverage}
    assert coverage[("AAA", "2013J")]["status"] == "complete"  # complete so far: up to the export's day
    assert coverage[("BBB", "2013J")]["status"] == "partial"  # the log stops at day 132 of 152
    finished = validate(export, Checks())
    assert [f.column for f in finished.errors] and {f.column for f in finished.errors} == {"final_result"}


def test_a_live_export_still_rejects_a_result_or_an_event_from_the_future(
    sample_dir: Path, export: Path, tmp_path: Path
) -> None:
    early = validate(sample_dir, Checks(as_of=AS_OF))  # the full history is no export of that date
    rules = {(f.file, f.column, f.rule) for f in early.errors}
    assert ("studentInfo.csv.gz", "final_result", "result_before_end") in rules
    assert ("studentVle.csv.gz", "date", "after_export_date") in rules
    assert ("studentAssessment.csv.gz", "date_submitted", "after_export_date") in rules
    hit = next(f for f in early.errors if f.rule == "after_export_date" and f.column == "date")
    assert hit.row is not None and hit.row > 1 and "2014-03-02" in hit.render()


def test_the_load_records_the_export_date(export: Path, settings: Settings) -> None:
    load(export, settings.warehouse, settings.reports_dir, checks=Checks(as_of=AS_OF))
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert con.execute("select distinct as_of_date from meta.load_manifest").fetchall() == [(AS_OF,)]
    again = load(export, settings.warehouse, settings.reports_dir, checks=Checks(as_of=date(2014, 3, 3)))
    assert again.changed  # the same files as of another date are another load


def test_after_every_end_the_export_is_the_history(sample_dir: Path, tmp_path: Path) -> None:
    replay(sample_dir, tmp_path / "late", date(2016, 1, 1))
    for stem in ("studentInfo", "studentRegistration", "studentAssessment"):
        got = sorted(tuple(r.values()) for r in _rows(tmp_path / "late" / f"{stem}.csv.gz"))
        want = sorted(tuple(r.values()) for r in _rows(sample_dir / f"{stem}.csv.gz"))
        assert got == want, stem


def test_backfill_dates() -> None:
    from laip.orchestration.live_term import dates_between

    assert dates_between(date(2014, 10, 31), date(2014, 11, 14), 7) == [
        date(2014, 10, 31),
        date(2014, 11, 7),
        date(2014, 11, 14),
    ]
    assert dates_between(date(2014, 10, 31), date(2014, 11, 13), 7)[-1] == date(2014, 11, 7)
    with pytest.raises(ValueError, match="before it starts"):
        dates_between(date(2014, 11, 14), date(2014, 10, 31), 7)


def test_replays_of_one_date_are_serialised_and_a_repeat_touches_nothing(sample_dir: Path, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    dest = tmp_path / "exports" / AS_OF.isoformat()
    with ThreadPoolExecutor(2) as pool:  # two runs of the same date at once (a DAG run and `laip run`)
        results = list(pool.map(lambda _: replay(sample_dir, dest, AS_OF), range(2)))
    assert results[0].rows == results[1].rows and results[0].running == results[1].running
    assert not list(tmp_path.glob("exports/*.replaying-*"))
    written = {p.name: p.stat().st_mtime_ns for p in dest.iterdir()}
    again = replay(sample_dir, dest, AS_OF)  # the same files, date and calendar: the export stays as it is
    assert {p.name: p.stat().st_mtime_ns for p in dest.iterdir()} == written
    assert again.rows == results[0].rows and again.ended == ["BBB 2013B"]
    replay(sample_dir, dest, AS_OF, start_day=2)  # another calendar: written anew
    assert {p.name: p.stat().st_mtime_ns for p in dest.iterdir()} != written
