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


def test_demo_mode_replays_a_weeks_clicks_as_the_increment_on_the_export_the_warehouse_holds(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replayed click log is a delta on the DuckDB warehouse's export when that is dated before the run's date;
    else (nothing loaded, the same or a later date, Spark) every click (laip.ingest.delta_load)."""
    import duckdb

    from laip.config import load_settings
    from laip.orchestration.live_term import delta_base

    assert delta_base(settings, date(2014, 11, 10)) is None
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute(
            "create schema meta; create table meta.load_manifest (file_name varchar, sha256 varchar, as_of_date date)"
        )
        con.execute("insert into meta.load_manifest values ('courses.csv.gz', 'x', '2014-11-03')")
    assert delta_base(settings, date(2014, 11, 10)) == date(2014, 11, 3)
    assert delta_base(settings, date(2014, 11, 3)) is None and delta_base(settings, date(2014, 10, 27)) is None
    monkeypatch.setenv("LAIP_WAREHOUSE_ENGINE", "spark")
    assert delta_base(load_settings(home=settings.home), date(2014, 11, 10)) is None


def test_a_scheduled_build_leaves_out_only_dbts_unit_tests(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A live run's build (direct, and the weekly DAG's producer) excludes dbt's unit tests (laip.yaml live_term);
    the manual DAG and `laip build` run them."""
    import laip.warehouse.build as build_module
    from laip.orchestration.dag_config import SCHEDULED_BUILD_ENV, cosmos_configs
    from laip.warehouse.build import BuildResult, build

    calls: list[tuple[str, ...]] = []
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    settings.warehouse.touch()
    monkeypatch.setattr(
        build_module, "run_dbt", lambda _s, command, *extra: calls.append(extra) or BuildResult(False, command, 0.0)
    )
    build(settings, select="x")
    build(settings, select="x", unit_tests=False)
    assert calls == [("--select", "x"), ("--select", "x", "--exclude-resource-type", "unit_test")]
    assert not settings.scheduled_unit_tests
    assert SCHEDULED_BUILD_ENV == {"DBT_EXCLUDE_RESOURCE_TYPES": "unit_test"}
    live, manual = (cosmos_configs(settings, live=x)["project_config"].env_vars for x in (True, False))
    assert live == manual | SCHEDULED_BUILD_ENV and "DBT_EXCLUDE_RESOURCE_TYPES" not in manual
