"""Load the raw files into the Spark warehouse: Parquet tables ``raw.<table>`` and ``meta.load_manifest``.

The same contract and the same validation as the DuckDB load (:mod:`laip.ingest.load`): the files are validated
first (on DuckDB, in memory), and nothing in the Spark warehouse changes unless they pass. Spark then reads the
same files with its own CSV reader (one task per file, no Python per row), casts each column to the contract's
type and writes Parquet tables beside the current ones (``raw.<table>__loading``). Before they replace the current
tables, the files' sha256 are taken again: a file changed after validation refuses the load. The swap is a
rename per table in the metastore, the manifest last (created when the swap completes); a swap cut short is finished
by the next load. Re-loading files whose sha256 equal the manifest's is a no-op.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from laip.config import Settings
from laip.ingest.acquire import find_file, sha256_of
from laip.ingest.delta_load import refuse_delta
from laip.ingest.live_export import with_declaration
from laip.ingest.load import MANIFEST, MANIFEST_COLUMNS, LoadResult, manifest_rows
from laip.ingest.report import FilesChangedDuringLoad, ValidationError, write_report
from laip.ingest.rules import Checks
from laip.ingest.schema import NULL_MARKERS, TABLES, TableSpec
from laip.ingest.validate import validate
from laip.spark.session import quoted, rename_into_place, spark_session, table_dir, warehouse_dir

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

SPARK_TYPES = {"VARCHAR": "string", "INTEGER": "int", "DOUBLE": "double"}
STAGING_SUFFIX = "__loading"
MANIFEST_SCHEMA = ", ".join(  # the DuckDB manifest's columns in Spark's types
    f"{name} {dict(varchar='string', timestamptz='timestamp').get(kind, kind)}" for name, kind in MANIFEST_COLUMNS
)


def recorded_manifest(spark: SparkSession) -> dict[str, str] | None:
    """{file name: sha256} of the Spark warehouse's load manifest with its ``as_of_date``, or None."""
    if not spark.catalog.tableExists(MANIFEST):
        return None
    rows = spark.table(MANIFEST).select("file_name", "sha256", "as_of_date").collect()
    return {r.file_name: r.sha256 for r in rows} | {"as_of_date": str(rows[0].as_of_date or "") if rows else ""}


def read_typed(spark: SparkSession, spec: TableSpec, path: Path) -> DataFrame:
    """One raw file as the contract's typed columns: every field read as text, NULL markers to NULL, then cast."""
    from pyspark.sql import functions as F

    text = spark.read.csv(str(path), header=True, inferSchema=False, quote='"', escape='"', mode="FAILFAST")
    columns = []
    for column in spec.columns:
        value = F.col(f"`{column.name}`")
        if column.nullable:
            value = F.when(value.isin(*NULL_MARKERS), F.lit(None)).otherwise(value)
        columns.append(value.cast(SPARK_TYPES[column.type]).alias(column.name))
    return text.select(*columns)


def load_spark(
    data_dir: Path,
    settings: Settings,
    *,
    source: str = "given",
    force: bool = False,
    checks: Checks | None = None,
) -> LoadResult:
    """Validate ``data_dir`` and load it into the Spark warehouse; see the module docstring. Raises
    :class:`ValidationError` (report also written to the reports dir) when the data is invalid."""
    start = time.perf_counter()
    data_dir = Path(data_dir).resolve()
    files = {spec.table: path for spec in TABLES if (path := find_file(data_dir, spec.file_stem)) is not None}
    delta, _wrong = with_declaration(data_dir, checks or Checks())
    if delta.clicks_since is not None:  # appended in place on DuckDB only
        message = "a delta click log: the Spark warehouse loads complete exports only (every click known that day)"
        refuse_delta(data_dir, settings.reports_dir, message, delta.clicks_since.isoformat())
    report = validate(data_dir, checks)
    write_report(report, settings.reports_dir)
    if not report.ok:
        raise ValidationError(report)
    as_of = checks.as_of.isoformat() if checks is not None and checks.as_of is not None else ""
    validated = {Path(f.path).name: f.sha256 or "" for f in report.files}
    location = f"Spark warehouse {settings.spark_dir}"
    with spark_session(settings, "laip-load") as spark:
        finish_interrupted_load(spark)
        if not force and recorded_manifest(spark) == validated | {"as_of_date": as_of}:
            return LoadResult(settings.spark_dir, changed=False, seconds=time.perf_counter() - start)
        for schema in ("raw", "meta"):
            spark.sql(f"create database if not exists {quoted(schema)}")
        rows = {f.stem: f.rows or 0 for f in report.files}
        by_table = {spec.table: spec for spec in TABLES}
        try:
            for table, path in files.items():
                staged = quoted(f"raw.{table}{STAGING_SUFFIX}")
                read_typed(spark, by_table[table], path).write.format("parquet").mode("overwrite").saveAsTable(staged)
                if (n := spark.table(staged).count()) != rows[by_table[table].file_stem]:
                    raise FilesChangedDuringLoad(
                        f"{path.name}: Spark read {n:,} rows, validation {rows[by_table[table].file_stem]:,}; "
                        f"{location} is unchanged: load again"
                    )
            changed = [p.name for p in files.values() if sha256_of(p) != validated[p.name]]
            if changed:
                raise FilesChangedDuringLoad(
                    f"{', '.join(changed)} changed after validation; {location} is unchanged: load again"
                )
            manifest = spark.createDataFrame(manifest_rows(report.files, data_dir, source, as_of), MANIFEST_SCHEMA)
            manifest.write.format("parquet").mode("overwrite").saveAsTable(quoted(f"{MANIFEST}{STAGING_SUFFIX}"))
        except BaseException:
            _drop_staging(spark)
            raise
        _swap(spark)
    counts = {spec.table: rows[spec.file_stem] for spec in TABLES if spec.file_stem in rows}
    for table, n in counts.items():
        log.info("loaded raw.%s into the Spark warehouse: %s rows from %s", table, f"{n:,}", files[table].name)
    return LoadResult(settings.spark_dir, changed=True, rows=counts, seconds=time.perf_counter() - start)


def finish_interrupted_load(spark: SparkSession) -> None:
    """Complete or discard a load that stopped before its swap ended. A staged manifest means every table was staged
    and checked: its swap is finished. Without one, the staged tables are dropped and the current ones stay."""
    if spark.catalog.tableExists(f"{MANIFEST}{STAGING_SUFFIX}"):
        _swap(spark)
    else:
        _drop_staging(spark)


def last_load_dirs(settings: Settings, tables: tuple[str, ...]) -> dict[str, Path] | None:
    """The Parquet directories of ``tables`` as of the Spark warehouse's last load, read without a JVM; None when no
    load completed. While a load's swap is cut short (its manifest staged), the staged tables it has not yet renamed:
    the next load finishes that swap (:func:`finish_interrupted_load`), so they are the last load."""
    warehouse = warehouse_dir(settings)
    swapping = table_dir(warehouse, f"{MANIFEST}{STAGING_SUFFIX}").is_dir()
    dirs = {}
    for table in (MANIFEST, *tables):
        staged = table_dir(warehouse, f"{table}{STAGING_SUFFIX}")
        dirs[table] = staged if swapping and staged.is_dir() else table_dir(warehouse, table)
    return dirs if dirs[MANIFEST].is_dir() else None


def _swap(spark: SparkSession) -> None:
    """Each staged raw table renamed into place, the manifest last (its load id is what a build's marts record, and
    what :mod:`laip.spark.serving_copy` compares them with). Every step can be repeated after a crash."""
    for table in _staged(spark):
        rename_into_place(spark, f"{table}{STAGING_SUFFIX}", table)
    rename_into_place(spark, f"{MANIFEST}{STAGING_SUFFIX}", MANIFEST)


def _staged(spark: SparkSession) -> list[str]:
    """The staged raw tables (``raw.<table>`` of every ``raw.<table>__loading``)."""
    if not spark.catalog.databaseExists("raw"):
        return []
    names = [t.name for t in spark.catalog.listTables("raw")]
    return [f"raw.{n.removesuffix(STAGING_SUFFIX)}" for n in names if n.endswith(STAGING_SUFFIX)]


def _drop_staging(spark: SparkSession) -> None:
    for table in _staged(spark):
        spark.sql(f"drop table if exists {quoted(table + STAGING_SUFFIX)}")
    if spark.catalog.databaseExists("meta"):
        spark.sql(f"drop table if exists {quoted(MANIFEST + STAGING_SUFFIX)}")
