"""A live term: runs driven by a date. The run for date D takes the export as of D (in production the files a
university drops into ``<exports>/YYYY-MM-DD/``; in demo mode the export as of D replayed from a finished history,
:mod:`laip.ingest.replay`), and a backfill runs every date of a range in order (``laip backfill``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from laip.config import Settings
from laip.orchestration.tasks import StepFailed

log = logging.getLogger(__name__)


def run_date(context: Mapping[str, Any]) -> date | None:
    """The date an Airflow run is for: its logical date (a scheduled or backfilled run, ``airflow dags test DAG D``),
    else when it was triggered (a manual trigger without a logical date); None without either."""
    when = context.get("logical_date") or getattr(context.get("dag_run"), "run_after", None)
    return when.date() if when is not None else None


def export_dir(settings: Settings, as_of: date) -> Path:
    """Where the export as of ``as_of`` is (or is written, replaying): ``<exports dir>/YYYY-MM-DD``."""
    return settings.exports_dir / as_of.isoformat()


def delta_base(settings: Settings, as_of: date) -> date | None:
    """The date after which a replayed export as of ``as_of`` holds its clicks (a delta click log,
    :mod:`laip.ingest.delta_load`): that of the export the DuckDB warehouse holds when it is dated before ``as_of``,
    as a VLE exports its log by increments. None (every click) on Spark, after a finished history or a later date,
    or when the warehouse cannot be read now (a complete export is always right, only slower to load)."""
    from laip.ingest.load import manifest_of
    from laip.warehouse.engine import is_spark

    if is_spark(settings):
        return None
    held = (manifest_of(settings.warehouse) or {}).get("as_of_date")
    return date.fromisoformat(held) if held and date.fromisoformat(held) < as_of else None


def prepare_export(settings: Settings, as_of: date, replay_from: str | Path | None = None) -> Path:
    """The directory holding the export as of ``as_of``: replayed from the finished history ``replay_from`` when
    given (demo mode; its click log a delta on the warehouse's last export, :func:`delta_base`), else the one
    dropped there; :class:`StepFailed` naming the directory when there is none."""
    target = export_dir(settings, as_of)
    if replay_from is not None:
        from laip.ingest.replay import replay

        since = delta_base(settings, as_of)
        try:
            result = replay(Path(replay_from), target, as_of, settings.presentation_start_day, since)
        except FileNotFoundError as exc:
            raise StepFailed(f"replay refused: {exc}") from exc
        for line in result.summary().splitlines():
            log.info(line)
        return target
    if not target.is_dir():
        raise StepFailed(
            f"no export as of {as_of} at {target}: drop the seven files there, or replay one from a finished "
            "history (--replay-from DIR)"
        )
    return target


def dates_between(start: date, end: date, every_days: int) -> list[date]:
    """``start``, ``start + every_days``, ... up to ``end`` inclusive (a backfill's dates, oldest first)."""
    if every_days < 1:
        raise ValueError(f"the step must be at least one day, got {every_days}")
    if end < start:
        raise ValueError(f"the range ends ({end}) before it starts ({start})")
    return [start + timedelta(days=i) for i in range(0, (end - start).days + 1, every_days)]


def require_export_loaded(settings: Settings, as_of: date) -> None:
    """:class:`StepFailed` unless the warehouse holds the export as of ``as_of`` (the run's own load). Two runs of the
    weekly DAG for different dates must not interleave (one's load between the other's load and publish would mix
    their data): a step of the later-loaded date's predecessor then stops here instead of publishing another
    date's rows."""
    import duckdb

    from laip.orchestration.tasks import writing

    with writing(settings, "check the export date"):
        try:
            with duckdb.connect(str(settings.warehouse), read_only=True) as con:
                loaded = [d for (d,) in con.execute("select distinct as_of_date from meta.load_manifest").fetchall()]
        except duckdb.Error as exc:
            raise StepFailed(f"no loaded export in {settings.warehouse}: {exc}") from exc
    if loaded != [as_of]:
        found = ", ".join(str(d) for d in loaded) or "none"
        raise StepFailed(
            f"the warehouse holds the export as of {found}, not this run's {as_of}: another run loaded in between. "
            "Runs of different dates must not overlap: backfill with max_active_runs 1 (--max-active-runs 1), then "
            "clear this run"
        )
