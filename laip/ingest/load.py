"""Load validated raw files into the DuckDB warehouse (schema ``raw``) with a load manifest.

The load never modifies the current warehouse in place: it builds a new DuckDB file next to it with
DuckDB's own CSV reader and explicit types, then swaps it in with an atomic rename. A failed validation or
a crash mid-load therefore leaves the last good warehouse exactly as it was. Re-loading files whose
sha256 equals the manifest's is a no-op.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from laip.durable import atomic_replace, staging_path
from laip.ingest.acquire import find_file, sha256_file
from laip.ingest.report import Report, ValidationError, passed_report_for, write_report
from laip.ingest.schema import NULL_MARKERS, TABLES, TableSpec
from laip.ingest.validate import validate

log = logging.getLogger(__name__)

MANIFEST = "meta.load_manifest"


@dataclass
class LoadResult:
    warehouse: Path
    changed: bool
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    validated: bool = False  # validation ran in this call (False: a passing report for the same files existed)

    def summary(self) -> str:
        if not self.changed:
            return f"Raw files unchanged since the last load (sha256 match); {self.warehouse} left as it is."
        lines = [f"Loaded {len(self.rows)} raw tables into {self.warehouse} in {self.seconds:.1f} s"]
        lines += [f"  raw.{t:<22} {n:>12,} rows" for t, n in self.rows.items()]
        return "\n".join(lines)

    def as_xcom(self) -> dict[str, Any]:
        """What the Airflow task keeps (JSON)."""
        return {
            "warehouse": str(self.warehouse),
            "changed": self.changed,
            "rows": self.rows,
            "seconds": round(self.seconds, 2),
        }


def read_csv_sql(spec: TableSpec) -> str:
    """The DuckDB ``read_csv`` call that reads one raw file with the contract's explicit types (one ``?`` param)."""
    columns = {c.name: c.type for c in spec.columns}
    nulls = list(NULL_MARKERS)
    return (
        f"read_csv(?, header=true, columns={columns!r}, nullstr={nulls!r}, delim=',', quote='\"', "
        "escape='\"', auto_detect=false, strict_mode=true)"
    )


def manifest_of(warehouse: Path) -> dict[str, str] | None:
    """{file name: sha256} recorded in the warehouse's load manifest, or None if there is none."""
    if not warehouse.is_file():
        return None
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return dict(con.execute(f"select file_name, sha256 from {MANIFEST}").fetchall())
    except duckdb.Error:
        return None


def ensure_valid(
    data_dir: Path,
    reports_dir: Path,
    contents: dict[str, str],
    *,
    max_examples: int = 5,
    tolerance_days: int = 7,
) -> bool:
    """Validate ``data_dir`` unless a passing report exists for exactly these file contents (``contents``: path ->
    sha256; never size and mtime alone). Raise if invalid. Returns True when validation ran now.
    """
    if passed_report_for(data_dir, reports_dir, contents) is not None:
        return False
    report: Report = validate(data_dir, max_examples=max_examples, tolerance_days=tolerance_days, contents=contents)
    write_report(report, reports_dir)
    if not report.ok:
        raise ValidationError(report)
    return True


def load(
    data_dir: Path,
    warehouse: Path,
    reports_dir: Path,
    *,
    source: str = "given",
    force: bool = False,
    max_examples: int = 5,
    tolerance_days: int = 7,
) -> LoadResult:
    """Validate (if needed) and load ``data_dir`` into ``warehouse`` atomically; see the module docstring."""
    start = time.perf_counter()
    data_dir = Path(data_dir).resolve()
    found = {spec.table: find_file(data_dir, spec.file_stem) for spec in TABLES}
    files = {table: path for table, path in found.items() if path is not None}
    with ThreadPoolExecutor(max_workers=2) as pool:
        hashes = dict(zip(files, pool.map(sha256_file, files.values()), strict=True))
    contents = {str(files[t]): h for t, h in hashes.items()}
    validated = ensure_valid(data_dir, reports_dir, contents, max_examples=max_examples, tolerance_days=tolerance_days)
    assert len(files) == len(found), "validation passed, so every file is present"
    if not force and manifest_of(warehouse) == {p.name: hashes[t] for t, p in files.items()}:
        return LoadResult(warehouse, changed=False, seconds=time.perf_counter() - start, validated=validated)

    warehouse.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_path(warehouse, "loading")
    for leftover in (staging, staging.with_name(staging.name + ".wal")):
        leftover.unlink(missing_ok=True)
    rows: dict[str, int] = {}
    loaded_at = datetime.now(UTC).replace(microsecond=0)
    load_id = loaded_at.strftime("%Y%m%dT%H%M%SZ")
    con = duckdb.connect(str(staging))
    try:
        con.execute("create schema raw; create schema meta")
        for spec in TABLES:
            path = files[spec.table]
            con.execute(f"create table raw.{spec.table} as select * from {read_csv_sql(spec)}", [str(path)])
            rows[spec.table] = con.execute(f"select count(*) from raw.{spec.table}").fetchall()[0][0]
            log.info("loaded raw.%s: %s rows from %s", spec.table, f"{rows[spec.table]:,}", path.name)
        con.execute(f"""create table {MANIFEST} (
            load_id varchar, file_name varchar, table_name varchar, source varchar, source_dir varchar,
            sha256 varchar, size_bytes bigint, row_count bigint, loaded_at timestamptz)""")
        con.executemany(
            f"insert into {MANIFEST} values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    load_id,
                    files[t].name,
                    t,
                    source,
                    str(data_dir),
                    hashes[t],
                    files[t].stat().st_size,
                    rows[t],
                    loaded_at,
                ]
                for t in files
            ],
        )
        con.execute("checkpoint")
    except BaseException:
        con.close()
        staging.unlink(missing_ok=True)
        raise
    con.close()
    # A write-ahead log left by a crashed writer of the old file must not be replayed onto the new one.
    warehouse.with_name(warehouse.name + ".wal").unlink(missing_ok=True)
    atomic_replace(staging, warehouse)  # readers see the old or the new warehouse, never a mix
    return LoadResult(warehouse, changed=True, rows=rows, seconds=time.perf_counter() - start, validated=validated)
