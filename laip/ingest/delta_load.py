"""Append a delta click log to the warehouse: an export whose ``export.json`` says ``clicks_since``
(:mod:`laip.ingest.live_export`).

Its six other files are complete, as in every export, and replace their tables; its ``studentVle`` holds only the
clicks dated after ``clicks_since``, the date of the export the warehouse holds, and they are appended to the clicks
loaded before. Unlike a full load (:mod:`laip.ingest.load`), which writes a new file and swaps it in, this reads and
validates the files in memory (the increment is small), then writes the warehouse in place in one DuckDB
transaction, only when every check passes; an error or a crash mid-write rolls it back, so the last good warehouse
stays as it was. What it spares is the click history: read again from the export, then copied into a new file,
every week.

Checks beyond those of a full export (:mod:`laip.ingest.validate`, on the six files and the increment): the warehouse
holds the load as of ``clicks_since`` (else a full export must be loaded); every earlier click still belongs to an
attempt and a VLE site of the new export. Click coverage is measured on the appended log.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import duckdb

from laip.ingest.acquire import FileDigest
from laip.ingest.coverage import measure_click_coverage
from laip.ingest.live_export import DECLARATION
from laip.ingest.load import CARRIED_SCHEMAS, MANIFEST, LoadResult, digest_with_lines, write_manifest
from laip.ingest.report import Finding, Report, ValidationError, write_report
from laip.ingest.rules import Checks
from laip.ingest.schema import BY_TABLE, TABLES
from laip.ingest.validate import validate

CLICKS = BY_TABLE["student_vle"]


def append_clicks(
    data_dir: Path,
    warehouse: Path,
    reports_dir: Path,
    shas: dict[Path, str],
    recorded: dict[str, str] | None,
    *,
    source: str,
    checks: Checks,
    start: float,
) -> LoadResult:
    """Load the export ``data_dir`` with a delta click log (``checks.clicks_since``) into ``warehouse`` in place;
    see the module docstring. :func:`laip.ingest.load.load` hands it the files' sha256 and the warehouse's manifest
    (:func:`~laip.ingest.load.manifest_of`) once it found the files changed. Raises :class:`ValidationError` (report
    also written to ``reports_dir``) when the data is invalid or the warehouse does not hold the load the increment
    follows; the warehouse is then unchanged."""
    assert checks.clicks_since is not None and checks.as_of is not None
    since, as_of = checks.clicks_since.isoformat(), checks.as_of.isoformat()
    base = (recorded or {}).get("as_of_date")
    if base != since:
        held = f"the load as of {base}" if base else ("a finished history" if recorded else "nothing")
        held += " (this export: loaded again, it needs the load it follows)" if base == as_of else ""
        refuse_delta(
            data_dir,
            reports_dir,
            f"the click log holds only the clicks after {since}, but {warehouse} holds {held}: load the full "
            f"export as of {as_of} (every click), or the exports from {since} on in order",
            since,
        )
    with ThreadPoolExecutor(max_workers=1) as pool:
        counting: dict[str, Future[FileDigest]] = {
            str(p): pool.submit(digest_with_lines, p, sha) for p, sha in shas.items()
        }
        con = duckdb.connect()  # the export's files are read and checked in memory (the increment is small)
        try:
            report = validate(data_dir, checks, contents=counting, con=con)
            clicks_file = next((Path(f.path).name for f in report.files if f.stem == CLICKS.file_stem), "")
            if report.ok:
                con.execute("attach ? as warehouse", [str(warehouse)])
                report.findings += _orphaned_earlier_clicks(con, clicks_file, since)
                report.ok = not report.errors
            write_report(report, reports_dir)  # this export's findings, whatever happens to the write below
            if not report.ok:
                raise ValidationError(report)
            con.execute("begin transaction")
            _replace_raw_tables(con)
            con.execute("use warehouse")
            total = int(con.execute(f"select count(*) from raw.{CLICKS.table}").fetchall()[0][0])
            report.click_coverage, warnings = measure_click_coverage(con, clicks_file, checks)
            report.findings += warnings
            rows = write_manifest(
                con, report, data_dir, source, as_of, {CLICKS.file_stem: (checks.clicks_since, total)}
            )
            con.execute("commit")
        except BaseException:
            try:
                con.execute("rollback")  # nothing of this load stays
            except duckdb.Error:
                pass  # no transaction had begun
            raise
        finally:
            con.close()
    write_report(report, reports_dir)  # again, with the coverage of the appended log
    appended = {CLICKS.table: rows[CLICKS.table]}
    rows[CLICKS.table] = total
    return LoadResult(warehouse, changed=True, rows=rows, seconds=time.perf_counter() - start, appended=appended)


def refuse_delta(data_dir: Path, reports_dir: Path, message: str, since: str) -> None:
    """Raise :class:`ValidationError` for a delta click log that cannot be loaded (``message`` says why), its report
    written to ``reports_dir``: nothing was read, nothing changed."""
    report = Report(data_dir=str(data_dir), ok=False)
    report.findings.append(Finding("error", DECLARATION, "delta_base", message, column="clicks_since", value=since))
    write_report(report, reports_dir)
    raise ValidationError(report)


def _replace_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """In the transaction: the increment (``memory.raw``) appended to the warehouse's clicks, its six other tables
    replaced by the export's, and whatever the last build made of the last load dropped, but the schemas a full load
    carries over (``ml``, ``incremental``): the warehouse is then what a full load leaves, and a build certified after
    it must have run after it (:func:`laip.warehouse.build.stale_build`)."""
    con.execute(f"insert into warehouse.raw.{CLICKS.table} select * from memory.raw.{CLICKS.table}")
    for spec in TABLES:
        if spec.table != CLICKS.table:
            con.execute(f"create or replace table warehouse.raw.{spec.table} as select * from memory.raw.{spec.table}")
    kept = ("raw", *CARRIED_SCHEMAS)
    built = con.execute(
        "select 'table', schema_name, table_name from duckdb_tables() where database_name = 'warehouse' "
        "union all select 'view', schema_name, view_name from duckdb_views() "
        "where database_name = 'warehouse' and not internal"
    ).fetchall()
    for kind, schema, name in built:
        if schema not in kept and (schema, name) != tuple(MANIFEST.split(".")):
            con.execute(f'drop {kind} warehouse."{schema}"."{name}"')


def _orphaned_earlier_clicks(con: duckdb.DuckDBPyConnection, clicks_file: str, since: str) -> list[Finding]:
    """Errors for earlier clicks whose attempt or VLE site the new export no longer has (the increment's own clicks
    were checked by the validator, line by line, with :meth:`laip.ingest.validate._Validator.check_foreign_key`;
    these have no line in this export)."""
    findings = []
    for fk in CLICKS.foreign_keys:
        keys = ", ".join(f'"{c}"' for c in fk.columns)
        on = " and ".join(f'c."{a}" = p."{b}"' for a, b in zip(fk.columns, fk.ref_columns, strict=True))
        earlier = f"(select distinct {keys} from warehouse.raw.{CLICKS.table}) c"
        orphans = f"{earlier} anti join memory.raw.{fk.ref_table} p on {on}"
        cols = ", ".join(f'c."{c}"' for c in fk.columns)
        n, example = con.execute(f"select count(*), min(concat_ws(', ', {cols})) from {orphans}").fetchall()[0]
        if n:
            parent = BY_TABLE[fk.ref_table]
            message = (
                f"{n:,} keys of the clicks loaded before (as of {since}) have no matching row in "
                f"{parent.file_stem}({', '.join(fk.ref_columns)}) of this export: a delta click log needs every "
                "attempt and site of the earlier clicks; load the full export"
            )
            findings.append(
                Finding(
                    "error", clicks_file, "foreign_key", message, column=",".join(fk.columns), value=example, total=n
                )
            )
    return findings
