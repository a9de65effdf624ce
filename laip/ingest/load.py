"""Load the raw files into the DuckDB warehouse (schema ``raw``) with a load manifest, validating them in the same pass.

The load never modifies the current warehouse in place: it reads each file once, with DuckDB's CSV reader and the
contract's types, into a new DuckDB file next to it, runs validation's checks on those tables
(:mod:`laip.ingest.validate`), and only when they pass swaps the new file in with an atomic rename. Invalid data,
or a crash mid-load, therefore leaves the last good warehouse exactly as it was. Re-loading files whose sha256
equals the manifest's is a no-op. An export with a delta click log (``export.json``) is appended in place instead,
in one transaction (:mod:`laip.ingest.delta_load`).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from laip.durable import new_duckdb_file
from laip.ingest.acquire import FileDigest, count_lines, find_file, sha256_of
from laip.ingest.live_export import with_declaration
from laip.ingest.report import FileInfo, Report, ValidationError, write_report
from laip.ingest.rules import Checks
from laip.ingest.schema import BY_STEM, TABLES
from laip.ingest.validate import validate

log = logging.getLogger(__name__)

MANIFEST = "meta.load_manifest"
ML_SCHEMA = "ml"  # the models' tables (laip.warehouse.tables writes them); a load carries them over
INCREMENTAL_SCHEMA = "incremental"  # dbt's incremental facts (dbt/README.md); a load carries them over too
CARRIED_SCHEMAS = (ML_SCHEMA, INCREMENTAL_SCHEMA)
MANIFEST_COLUMNS = (  # (name, DuckDB type); the Spark load writes the same columns (laip.spark.raw_load)
    ("load_id", "varchar"),
    ("file_name", "varchar"),
    ("table_name", "varchar"),
    ("source", "varchar"),
    ("source_dir", "varchar"),
    ("sha256", "varchar"),
    ("size_bytes", "bigint"),
    ("row_count", "bigint"),
    ("loaded_at", "timestamptz"),
    ("as_of_date", "date"),
    ("delta_since", "date"),  # a delta file (laip.ingest.delta_load): appended to the load as of this date; else NULL
)


@dataclass
class LoadResult:
    warehouse: Path
    changed: bool
    rows: dict[str, int] = field(default_factory=dict)  # rows of each raw table now
    seconds: float = 0.0
    appended: dict[str, int] = field(default_factory=dict)  # of those, rows appended by a delta (delta_load)

    def summary(self) -> str:
        if not self.changed:
            return f"Raw files unchanged since the last load (sha256 match); {self.warehouse} left as it is."
        lines = [f"Loaded {len(self.rows)} raw tables into {self.warehouse} in {self.seconds:.1f} s"]
        lines += [
            f"  raw.{t:<22} {n:>12,} rows" + (f" ({self.appended[t]:,} appended)" if t in self.appended else "")
            for t, n in self.rows.items()
        ]
        return "\n".join(lines)

    def as_xcom(self) -> dict[str, Any]:
        """What the Airflow task keeps (JSON)."""
        return {
            "warehouse": str(self.warehouse),
            "changed": self.changed,
            "rows": self.rows,
            "appended": self.appended,
            "seconds": round(self.seconds, 2),
        }


def manifest_of(warehouse: Path) -> dict[str, str] | None:
    """{file name: sha256} recorded in the warehouse's load manifest, with the export's date (``as_of_date``: ISO
    date, or empty for a finished history), or None if there is none."""
    if not warehouse.is_file():
        return None
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            rows = con.execute(f"select file_name, sha256, as_of_date from {MANIFEST}").fetchall()
    except duckdb.Error:
        return None
    return {name: sha for name, sha, _ in rows} | {"as_of_date": str(rows[0][2] or "") if rows else ""}


def load(
    data_dir: Path,
    warehouse: Path,
    reports_dir: Path,
    *,
    source: str = "given",
    force: bool = False,
    checks: Checks | None = None,
) -> LoadResult:
    """Validate and load ``data_dir`` into ``warehouse`` atomically in one pass; see the module docstring. Raises
    :class:`ValidationError` (with the report, also written to ``reports_dir``) when the data is invalid. An export
    as of a date (``checks.as_of``) is validated as one (:mod:`laip.ingest.live_export`) and its date recorded in the
    manifest (``as_of_date``, NULL for a finished history), where the warehouse reads it."""
    start = time.perf_counter()
    data_dir = Path(data_dir).resolve()
    files = {spec.table: path for spec in TABLES if (path := find_file(data_dir, spec.file_stem)) is not None}
    # Whether anything changed takes only the stored bytes' sha256 (no decompression); the line counts that
    # validation compares with the rows read need the text, and are counted beside DuckDB's read of the same files.
    shas = {p: sha256_of(p) for p in files.values()}
    recorded = manifest_of(warehouse)
    as_of = checks.as_of.isoformat() if checks is not None and checks.as_of is not None else ""
    now = {p.name: sha for p, sha in shas.items()} | {"as_of_date": as_of}
    if not force and recorded is not None and recorded == now:
        return LoadResult(warehouse, changed=False, seconds=time.perf_counter() - start)
    delta, _wrong = with_declaration(data_dir, checks or Checks())  # a wrong declaration: validation reports it
    if delta.clicks_since is not None:
        from laip.ingest.delta_load import append_clicks  # it builds on this module

        return append_clicks(data_dir, warehouse, reports_dir, shas, recorded, source=source, checks=delta, start=start)
    with ThreadPoolExecutor(max_workers=1) as pool:
        counting: dict[str, Future[FileDigest]] = {
            str(p): pool.submit(digest_with_lines, p, sha) for p, sha in shas.items()
        }
        with new_duckdb_file(warehouse, "loading") as con:  # readers see the old or the new warehouse, never a mix
            report = validate(data_dir, checks, contents=counting, con=con)
            write_report(report, reports_dir)
            if not report.ok:
                raise ValidationError(report)
            rows = write_manifest(con, report, data_dir, source, as_of or None)
            carry_model_tables(con, warehouse)
    for table, n in rows.items():
        log.info("loaded raw.%s: %s rows from %s", table, f"{n:,}", files[table].name)
    return LoadResult(warehouse, changed=True, rows=rows, seconds=time.perf_counter() - start)


def digest_with_lines(path: Path, sha256: str) -> FileDigest:
    """The digest of ``path`` whose sha256 is known: its text lines counted (beside the read that needs them)."""
    return FileDigest(sha256, count_lines(path))


def carry_model_tables(
    con: duckdb.DuckDBPyConnection, warehouse: Path, schemas: tuple[str, ...] = CARRIED_SCHEMAS
) -> None:
    """Copy the schemas ``ml`` and ``incremental`` of the current warehouse into the new file.

    ``ml`` describes the registered models (the champion's evaluation, its scores, monitoring), not the raw data: a
    champion kept after a load, or a challenger the champion gate did not promote, leaves it as it is, and the steps
    after the load replace the rest. ``incremental`` holds dbt's incremental facts: the next build compares each
    partition's digest with the new raw data and rebuilds only what changed (dbt/README.md), so carrying a table
    that no longer matches the data costs time, never correctness."""
    if not warehouse.is_file():
        return
    con.execute("attach ? as previous (read_only)", [str(warehouse)])
    try:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'previous' "
            "and schema_name in (select unnest(?)) order by all",
            [list(schemas)],
        ).fetchall()
        for schema in sorted({schema for schema, _ in tables}):
            con.execute(f"create schema if not exists {schema}")
        for schema, name in tables:
            con.execute(f'create table {schema}."{name}" as select * from previous.{schema}."{name}"')
    finally:
        con.execute("detach previous")


def manifest_rows(
    files: list[FileInfo],
    data_dir: Path,
    source: str,
    as_of: str | None,
    appended: dict[str, tuple[date, int]] | None = None,
) -> list[tuple]:
    """The load manifest's rows, one per file (the columns of :data:`MANIFEST_COLUMNS`), as both engines record them:
    one load id and a timezone-aware load time for the whole load, the export's date (``as_of``, ISO) or None.
    ``appended``: {file stem: (date of the load it was appended to, rows of its table now)} of delta files, whose
    row count is that of the table (the file's rows are the increment)."""
    appended = appended or {}
    loaded_at = datetime.now(UTC).replace(microsecond=0)
    load_id = loaded_at.strftime("%Y%m%dT%H%M%SZ")
    as_of_date = date.fromisoformat(as_of) if as_of else None
    return [
        (
            load_id,
            Path(f.path).name,
            BY_STEM[f.stem].table,
            source,
            str(data_dir),
            f.sha256,
            f.size_bytes,
            appended[f.stem][1] if f.stem in appended else f.rows,
            loaded_at,
            as_of_date,
            appended[f.stem][0] if f.stem in appended else None,
        )
        for f in files
    ]


def write_manifest(
    con: duckdb.DuckDBPyConnection,
    report: Report,
    data_dir: Path,
    source: str,
    as_of: str | None,
    appended: dict[str, tuple[date, int]] | None = None,
) -> dict[str, int]:
    """Record what was loaded (one row per file: sha256, size, rows, the export's date) in ``meta.load_manifest``,
    replacing the last load's record; rows per table (``appended``: as :func:`manifest_rows`)."""
    columns = ", ".join(f"{name} {kind}" for name, kind in MANIFEST_COLUMNS)
    con.execute(f"create schema if not exists meta; create or replace table {MANIFEST} ({columns})")
    rows = manifest_rows(report.files, data_dir, source, as_of, appended)
    con.executemany(f"insert into {MANIFEST} values ({', '.join('?' * len(MANIFEST_COLUMNS))})", rows)
    return {BY_STEM[f.stem].table: f.rows or 0 for f in report.files}
