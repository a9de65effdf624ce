"""The warehouse engine of the settings (``warehouse.engine``): DuckDB (one file) or Spark (:mod:`laip.spark`).

The steps that depend on the engine ask here, so that the rest of the platform names neither.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from laip.config import Settings
from laip.ingest.load import LoadResult, load
from laip.ingest.rules import Checks
from laip.ingest.source_guard import COURSES, SourceFamily, family_of_load

if TYPE_CHECKING:  # laip.warehouse.build asks this module for the engine: it is imported where used
    from laip.warehouse.build import BuildResult
    from laip.warehouse.publish import PublishResult


class NotCertified(RuntimeError):
    """The warehouse does not hold the build to certify (a load came in between)."""


def is_spark(settings: Settings) -> bool:
    return settings.warehouse_engine == "spark"


def location(settings: Settings) -> str:
    """The warehouse, for messages: the DuckDB file, or the Spark warehouse's directory."""
    return f"the Spark warehouse {settings.spark_dir}" if is_spark(settings) else str(settings.warehouse)


@contextmanager
def last_load(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A read-only DuckDB connection in which ``meta.load_manifest`` and ``raw.courses`` are the engine's last load
    (what the source guard and ``laip info`` read), or None when nothing was loaded; raises :class:`duckdb.Error`
    when it cannot be read. On DuckDB the warehouse file; on Spark views over its Parquet files, read without a JVM
    (:func:`laip.spark.raw_load.last_load_dirs`; not the ML steps' copy, which holds the last build's load)."""
    if not is_spark(settings):
        if not settings.warehouse.is_file():
            yield None
            return
        with duckdb.connect(str(settings.warehouse), read_only=True) as con:
            yield con
        return
    from laip.spark.raw_load import last_load_dirs

    dirs = last_load_dirs(settings, (COURSES,))
    if dirs is None:
        yield None
        return
    with duckdb.connect() as con:
        for table, files in dirs.items():
            pattern = str(files / "*.parquet").replace("'", "''")
            con.execute(f"create schema if not exists {table.split('.')[0]}")
            con.execute(f"create view {table} as select * from read_parquet('{pattern}')")
        yield con


def last_load_family(settings: Settings) -> SourceFamily | None:
    """The family of the engine's last load (:mod:`laip.ingest.source_guard`), or None when nothing was loaded or it
    cannot be read (as :func:`laip.ingest.source_guard.family_of_warehouse`)."""
    try:
        with last_load(settings) as con:
            return family_of_load(con, settings.sample_dir) if con is not None else None
    except duckdb.Error:
        return None


def load_raw_files(settings: Settings, data_dir: Path, *, source: str, force: bool, checks: Checks) -> LoadResult:
    """Validate ``data_dir`` and load it into the engine's ``raw`` tables with the load manifest, atomically
    (:mod:`laip.ingest.load`, :mod:`laip.spark.raw_load`)."""
    if is_spark(settings):
        from laip.spark.raw_load import load_spark

        return load_spark(data_dir, settings, source=source, force=force, checks=checks)
    return load(data_dir, settings.warehouse, settings.reports_dir, source=source, force=force, checks=checks)


def certify(settings: Settings, result: BuildResult, manifest: Path) -> None:
    """Record the full dbt build ``result`` (every model of ``manifest``) as what ``publish`` ships; raises
    :class:`NotCertified` when the warehouse no longer holds that build. On DuckDB a load in between replaced the file
    (its models are missing); on Spark the marts were built on another load. On Spark the build is copied for the ML
    steps."""
    from laip.warehouse.build import certify_spark_build, record_build_status, stale_build

    if is_spark(settings):
        from laip.spark.serving_copy import StaleBuild

        try:
            certify_spark_build(settings, result, manifest)
        except StaleBuild as exc:
            raise NotCertified(str(exc)) from exc
        return
    stale = stale_build(settings, manifest)
    if stale:
        raise NotCertified(stale)
    record_build_status(settings.warehouse, result)


def publish(settings: Settings) -> PublishResult:
    """Publish the serving snapshot (:mod:`laip.warehouse.publish`). On Spark, only when the DuckDB copy holds the
    Spark warehouse's load, and the ``ml`` tables are then written back into the Spark warehouse."""
    from laip.warehouse.publish import PublishError
    from laip.warehouse.publish import publish as publish_snapshot

    if not is_spark(settings):
        return publish_snapshot(settings.warehouse, settings.serving_warehouse, settings.sample_dir)
    from laip.spark.serving_copy import StaleBuild, check_same_load, write_ml_tables_back
    from laip.spark.session import spark_session

    with spark_session(settings, "laip-publish") as spark:
        try:
            check_same_load(spark, settings.warehouse)
        except StaleBuild as exc:
            raise PublishError(str(exc)) from exc
        result = publish_snapshot(settings.warehouse, settings.serving_warehouse, settings.sample_dir)
        try:
            write_ml_tables_back(spark, settings.warehouse)
        except Exception as exc:  # the snapshot is out; Spark keeps the ml tables it had, or some of the new ones
            raise PublishError(
                f"published {result.path}, but writing the ml tables back into the Spark warehouse failed: {exc}"
            ) from exc
    return result
