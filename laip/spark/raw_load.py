"""Load the raw files into the Spark warehouse: Parquet tables ``raw.<table>`` and ``meta.load_manifest``.

The same contract and the same validation as the DuckDB load (:mod:`laip.ingest.load`): the files are validated
first (on DuckDB, in memory), and nothing in the Spark warehouse changes unless they pass. Spark then reads the
same files with its own CSV reader (one task per file, no Python per row), casts each column to the contract's
type and writes Parquet tables beside the current ones (``raw.<table>__loading``). Before they replace the current
tables, the files' sha256 are taken again: a file changed after validation refuses the load. The swap is a
rename per table in the metastore, the manifest last; re-loading files whose sha256 equal the manifest's is a no-op.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from laip.config import Settings
from laip.ingest.acquire import digest_file, find_file
from laip.ingest.load import MANIFEST, LoadResult
from laip.ingest.report import FilesChangedDuringLoad, ValidationError, write_report
from laip.ingest.rules import Checks
from laip.ingest.schema import NULL_MARKERS, TABLES, TableSpec
from laip.ingest.validate import validate
from laip.spark.session import spark_session

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

SPARK_TYPES = {"VARCHAR": "string", "INTEGER": "int", "DOUBLE": "double"}
STAGING_SUFFIX = "__loading"
MANIFEST_COLUMNS = (
    "load_id string, file_name string, table_name string, source string, source_dir string, sha256 string, "
    "size_bytes bigint, row_count bigint, loaded_at timestamp, as_of_date date"
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
    report = validate(data_dir, checks)
    write_report(report, settings.reports_dir)
    if not report.ok:
        raise ValidationError(report)
    as_of = checks.as_of.isoformat() if checks is not None and checks.as_of is not None else ""
    validated = {Path(f.path).name: f.sha256 or "" for f in report.files}
    location = f"Spark warehouse {settings.spark_dir}"
    with spark_session(settings, "laip-load") as spark:
        if not force and recorded_manifest(spark) == validated | {"as_of_date": as_of}:
            return LoadResult(settings.spark_dir, changed=False, seconds=time.perf_counter() - start)
        for schema in ("raw", "meta"):
            spark.sql(f"create database if not exists {schema}")
        by_table = {spec.table: spec for spec in TABLES}
        for table, path in files.items():
            read_typed(spark, by_table[table], path).write.format("parquet").mode("overwrite").saveAsTable(
                f"raw.{table}{STAGING_SUFFIX}"
            )
        changed = [p.name for p in files.values() if digest_file(p).sha256 != validated[p.name]]
        if changed:
            _drop_staging(spark, files)
            raise FilesChangedDuringLoad(
                f"{', '.join(changed)} changed after validation; {location} is unchanged: load again"
            )
        rows = {f.stem: f.rows or 0 for f in report.files}
        manifest = _manifest_frame(spark, report.files, data_dir, source, as_of or None, by_table)
        manifest.write.format("parquet").mode("overwrite").saveAsTable(f"{MANIFEST}{STAGING_SUFFIX}")
        for table in [*(f"raw.{t}" for t in files), MANIFEST]:
            spark.sql(f"drop table if exists {table}")
            spark.sql(f"alter table {table}{STAGING_SUFFIX} rename to {table}")
    counts = {spec.table: rows[spec.file_stem] for spec in TABLES if spec.file_stem in rows}
    for table, n in counts.items():
        log.info("loaded raw.%s into the Spark warehouse: %s rows from %s", table, f"{n:,}", files[table].name)
    return LoadResult(settings.spark_dir, changed=True, rows=counts, seconds=time.perf_counter() - start)


def _drop_staging(spark: SparkSession, files: dict[str, Path]) -> None:
    for table in files:
        spark.sql(f"drop table if exists raw.{table}{STAGING_SUFFIX}")


def _manifest_frame(
    spark: SparkSession, infos: list, data_dir: Path, source: str, as_of: str | None, by_table: dict[str, TableSpec]
) -> DataFrame:
    """The manifest rows (one per file), as the DuckDB load writes them."""
    from datetime import date

    loaded_at = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    load_id = loaded_at.strftime("%Y%m%dT%H%M%SZ")
    tables = {spec.file_stem: spec.table for spec in by_table.values()}
    rows = [
        (
            load_id,
            Path(f.path).name,
            tables[f.stem],
            source,
            str(data_dir),
            f.sha256,
            f.size_bytes,
            f.rows,
            loaded_at,
            date.fromisoformat(as_of) if as_of else None,
        )
        for f in infos
    ]
    return spark.createDataFrame(rows, MANIFEST_COLUMNS)
