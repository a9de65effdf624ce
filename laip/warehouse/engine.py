"""The warehouse engine of the settings (``warehouse.engine``): DuckDB (one file) or Spark (:mod:`laip.spark`).

The steps that depend on the engine ask here, so that the rest of the platform names neither.
"""

from __future__ import annotations

from pathlib import Path

from laip.config import Settings
from laip.ingest.load import LoadResult, load
from laip.ingest.rules import Checks


def is_spark(settings: Settings) -> bool:
    return settings.warehouse_engine == "spark"


def location(settings: Settings) -> str:
    """The warehouse, for messages: the DuckDB file, or the Spark warehouse's directory."""
    return f"the Spark warehouse {settings.spark_dir}" if is_spark(settings) else str(settings.warehouse)


def load_raw_files(settings: Settings, data_dir: Path, *, source: str, force: bool, checks: Checks) -> LoadResult:
    """Validate ``data_dir`` and load it into the engine's ``raw`` tables with the load manifest, atomically
    (:mod:`laip.ingest.load`, :mod:`laip.spark.raw_load`)."""
    if is_spark(settings):
        from laip.spark.raw_load import load_spark

        return load_spark(data_dir, settings, source=source, force=force, checks=checks)
    return load(data_dir, settings.warehouse, settings.reports_dir, source=source, force=force, checks=checks)
