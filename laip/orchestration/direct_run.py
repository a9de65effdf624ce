"""The whole pipeline without Airflow (``laip run``): the DAG's steps of :mod:`laip.orchestration.tasks`, in the DAG's
order, in this process."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from laip.config import Settings
from laip.locks import WriterBusy
from laip.orchestration.tasks import (
    StepFailed,
    build_warehouse,
    insight_cards,
    load_raw,
    monitor,
    publish,
    report,
    score,
    train_or_keep,
    validate_raw,
)


def run_all(
    settings: Settings,
    data_dir: str | Path | None = None,
    retrain: str = "auto",
    *,
    allow_sample: bool = False,
    confirm_change: bool = False,
    as_of: date | None = None,
) -> int:
    """The DAG's steps in this process, in the DAG's order; prints the timings. Exit code 1 at the first failed
    step (the published snapshot is then unchanged). ``allow_sample``, ``confirm_change``: see
    :func:`laip.orchestration.tasks.data_source`; ``as_of``: the files are an export as of that date (a live run:
    its build runs dbt's unit tests only as ``live_term.unit_tests`` says)."""
    unit_tests = as_of is None or settings.scheduled_unit_tests
    decision: dict[str, Any] = {}
    source: dict[str, Any] = {"allow_sample": allow_sample, "confirm_change": confirm_change, "as_of": as_of}

    def validate() -> None:
        result = validate_raw(settings, data_dir, **source)
        report(result)
        source.update(data_dir=result.source.path, allow_sample=False)  # the load reads what was validated

    steps: list[tuple[str, Callable[[], object]]] = [
        ("validate", validate),
        ("load", lambda: report(load_raw(settings, **source))),
        ("build", lambda: report(build_warehouse(settings, unit_tests=unit_tests))),
        ("monitor", lambda: decision.update(report(monitor(settings, retrain)))),
        ("train", lambda: train_or_keep(settings, decision)),
        ("score", lambda: report(score(settings))),
        ("insights", lambda: report(insight_cards(settings))),
        ("publish", lambda: report(publish(settings))),
    ]
    timings = []
    for name, step in steps:
        start = time.perf_counter()
        try:
            step()
        except (StepFailed, WriterBusy) as exc:
            print(str(exc), file=sys.stderr)
            print(
                f"Step {name} failed; the published snapshot {settings.serving_warehouse} is unchanged.",
                file=sys.stderr,
            )
            return 1
        timings.append((name, time.perf_counter() - start))
    print("\n".join(f"  {n:<10} {s:7.1f} s" for n, s in timings))
    print(
        f"Done in {sum(s for _, s in timings):.1f} s. Serving snapshot (dashboards, API): "
        f"{settings.serving_warehouse}\nWarehouse: {settings.warehouse}\nMLflow: {settings.mlflow_tracking_uri}"
    )
    return 0


def run_as_of(
    settings: Settings,
    as_of: date,
    retrain: str = "auto",
    *,
    replay_from: str | Path | None = None,
    confirm_change: bool = False,
) -> int:
    """The run for date ``as_of`` (a live term): every step on the export as of that date
    (:func:`laip.orchestration.live_term.prepare_export`). Running a date again replaces exactly its rows."""
    from laip.orchestration.live_term import prepare_export

    try:
        export = prepare_export(settings, as_of, replay_from)
    except StepFailed as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"Run as of {as_of}: {export}")
    return run_all(settings, export, retrain, confirm_change=confirm_change, as_of=as_of)


def backfill(
    settings: Settings,
    start: date,
    end: date,
    every_days: int = 7,
    retrain: str = "auto",
    *,
    replay_from: str | Path | None = None,
) -> int:
    """:func:`run_as_of` for every date from ``start`` to ``end`` every ``every_days`` days, oldest first; stops at
    the first failed date (exit code 1) and says which dates are done."""
    from laip.orchestration.live_term import dates_between

    dates = dates_between(start, end, every_days)
    for i, day in enumerate(dates):
        if run_as_of(settings, day, retrain, replay_from=replay_from) != 0:
            done = ", ".join(d.isoformat() for d in dates[:i]) or "none"
            print(f"Backfill stopped at {day}; dates done: {done}", file=sys.stderr)
            return 1
    print(f"Backfill done: {len(dates)} dates from {dates[0]} to {dates[-1]}")
    return 0
