"""The run for a date: where its export is, what the command line refuses (the runs themselves:
tests/integration/test_live_term.py)."""

from __future__ import annotations

from datetime import UTC, date
from pathlib import Path

import pytest

from laip.cli import main
from laip.config import Settings
from laip.orchestration.live_term import export_dir, prepare_export
from laip.orchestration.tasks import StepFailed


def test_the_export_of_a_date_is_dropped_in_the_exports_folder(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert export_dir(settings, date(2014, 11, 7)) == settings.home / "exports" / "2014-11-07"
    with pytest.raises(StepFailed, match=r"no export as of 2014-11-07 at .*exports/2014-11-07"):
        prepare_export(settings, date(2014, 11, 7))
    monkeypatch.setenv("LAIP_EXPORTS_DIR", "/srv/exports")
    assert export_dir(settings, date(2014, 11, 7)) == Path("/srv/exports/2014-11-07")


def test_the_command_line_refuses_an_ambiguous_or_missing_export(
    settings: Settings, sample_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(sample_dir), "--as-of", "2014-11-07"]) == 2
    assert "--replay-from" in capsys.readouterr().err
    assert main(["run", "--replay-from", str(sample_dir)]) == 2
    assert main(["run", "--as-of", "2014-11-07"]) == 1
    assert "no export as of 2014-11-07" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["backfill", "--from", "2014-11-07", "--to", "2014-11-14", "--every", "0d"])


def test_a_step_stops_when_another_dates_export_was_loaded_since_its_run_loaded(settings: Settings) -> None:
    """Two runs of the weekly DAG for different dates must not interleave: a step that finds another date's export
    in the warehouse stops the run (naming both dates) instead of publishing that date's rows as its own."""
    import duckdb

    from laip.orchestration.live_term import require_export_loaded

    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("create schema meta; create table meta.load_manifest (file_name varchar, as_of_date date)")
        con.execute("insert into meta.load_manifest values ('courses.csv.gz', '2014-11-10')")
    require_export_loaded(settings, date(2014, 11, 10))
    with pytest.raises(StepFailed, match=r"holds the export as of 2014-11-10, not this run's 2014-11-03.*max.active"):
        require_export_loaded(settings, date(2014, 11, 3))


def test_a_run_is_for_its_logical_date_or_else_when_it_was_triggered() -> None:
    from datetime import datetime
    from types import SimpleNamespace

    from laip.orchestration.live_term import run_date

    run = SimpleNamespace(run_after=datetime(2014, 11, 5, 9, tzinfo=UTC))
    assert run_date({"logical_date": datetime(2014, 11, 3, 3, tzinfo=UTC), "dag_run": run}) == date(2014, 11, 3)
    assert run_date({"logical_date": None, "dag_run": run}) == date(2014, 11, 5)
