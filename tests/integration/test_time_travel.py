"""Nothing leaks from the future, proven by time travel: for every checkpoint P and presentation, the feature rows
built from the export as of the day that presentation reached P (``laip replay``, loaded as a live export) equal,
column by column, the rows of checkpoint P built from the full history. On the sample here; on the full OULAD in
the full-data tier (``test_time_travel_on_the_full_data``)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest
from support.time_travel import as_of_dates, build_as_of, differences

from laip.config import Settings, load_settings
from laip.ingest.load import load
from laip.warehouse.build import run_dbt


def _check_every_date(full: Path, src: Path, root: Path, dates: list[tuple[date, str, int]]) -> list[str]:
    """Build the export of every (date, code, P) (two at a time: dbt waits on its own process) and compare."""

    def one(item: tuple[date, str, int]) -> str | None:
        as_of, code, day = item
        live = build_as_of(src, root / f"{code}_{day}", as_of, (day,))
        n, diffs = differences(full, live.warehouse, day, code)
        assert n > 0, f"{code} day {day}: no rows"
        return f"{code} day {day} (as of {as_of}, {n} rows): {len(diffs)} differ, e.g. {diffs[:3]}" if diffs else None

    with ThreadPoolExecutor(max_workers=2) as pool:
        return [problem for problem in pool.map(one, dates) if problem]


def test_features_from_each_weeks_export_equal_the_full_historys(built_sample: Settings, tmp_path: Path) -> None:
    from support.data import SAMPLE_DIR

    dates = as_of_dates({"2013B", "2013J", "2014J"}, built_sample.checkpoints, built_sample.presentation_start_day)
    assert len(dates) == 3 * len(built_sample.checkpoints)
    problems = _check_every_date(built_sample.warehouse, SAMPLE_DIR, tmp_path, dates)
    assert not problems, "\n".join(problems)


@pytest.mark.full_data
def test_time_travel_on_the_full_data(full_data_dir: Path, tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "full")
    load(full_data_dir, settings.warehouse, settings.reports_dir)
    result = run_dbt(settings, "run", "--select", "+mart_withdrawal_prediction_features")
    assert result.success, result.summary()
    codes = {"2013B", "2013J", "2014B", "2014J"}
    dates = as_of_dates(codes, settings.checkpoints, settings.presentation_start_day)
    problems = _check_every_date(settings.warehouse, full_data_dir, tmp_path, dates)
    assert not problems, "\n".join(problems)
