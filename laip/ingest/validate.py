"""Validate the seven raw OULAD files against :mod:`laip.ingest.schema`, in the same pass that loads them.

Checks: every file present and readable (gzip intact, UTF-8, rectangular CSV), exact headers, values
parse as their types, no missing values where none are allowed, domains and ranges, event days within their
presentation, primary keys unique, foreign keys hold. Every error names the file, column, line number (the header
is line 1) and value; the first few rows per failing rule are listed with the total count. Click-log coverage is
measured and reported as warnings, never errors: a presentation without click log is a fact about the data.

Each file is read once, by DuckDB's CSV reader, straight into its typed table (:mod:`laip.ingest.csv_read`); the
checks are set-based queries on those tables. ``laip validate`` reads into memory and throws the tables away;
``laip load`` reads into the new warehouse file and swaps it in only when the checks pass, so validating costs
the load little more than the read itself.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import Future
from pathlib import Path

import duckdb

from laip.ingest.acquire import FileDigest, digest_file
from laip.ingest.coverage import measure_click_coverage
from laip.ingest.csv_read import MAX_LINE_BYTES, line_of, read_into
from laip.ingest.file_checks import check_header, locate, long_lines, read_header
from laip.ingest.live_export import live_rules, with_declaration
from laip.ingest.report import FileInfo, Finding, Report
from laip.ingest.rules import EVENT_DAYS, Checks, event_day_rule, value_rules
from laip.ingest.schema import BY_TABLE, TABLES, TableSpec


class _Validator:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        data_dir: Path,
        checks: Checks,
        contents: Mapping[str, FileDigest | Future[FileDigest]],
    ):
        self.con = con
        self.data_dir = data_dir
        self.checks = checks
        self.max_examples = checks.max_examples
        self.contents = contents  # path -> digest (or its Future) the caller computes anyway
        self.report = Report(data_dir=str(data_dir))
        self.loaded: dict[str, Path] = {}  # raw table name -> file read into raw.<table>
        self.rejected: dict[str, list[int]] = {}  # raw table name -> lines that did not parse

    def add(self, finding: Finding) -> None:
        self.report.findings.append(finding)

    def line(self, table: str, rowid: int) -> int:
        return line_of(rowid, self.rejected.get(table, []))

    def read_file(self, spec: TableSpec) -> None:
        path = locate(self.data_dir, spec)
        if isinstance(path, Finding):
            self.add(path)
            return
        stat = path.stat()
        info = FileInfo(spec.file_stem, str(path), stat.st_size, stat.st_mtime_ns)
        self.report.files.append(info)
        try:
            self.read_rows(spec, path, info)
        finally:  # the digest may be computed beside the read (the load): collected once the read is done
            known = self.contents.get(str(path))
            digest = (known.result() if isinstance(known, Future) else known) or digest_file(path)
            info.sha256 = digest.sha256
        if spec.table in self.loaded and (info.rows or 0) < digest.lines - 1:
            self.find_dropped_lines(spec, path)

    def find_dropped_lines(self, spec: TableSpec, path: Path) -> None:
        """Lines neither read nor rejected: DuckDB's reader drops a line longer than its buffer without a word."""
        rejected = set(self.rejected.get(spec.table, []))
        dropped = [(n, size) for n, size in long_lines(path, MAX_LINE_BYTES) if n not in rejected]
        for line, size in dropped[: self.max_examples]:
            message = f"line of {size:,} bytes, over the {MAX_LINE_BYTES:,}-byte limit of a row"
            self.add(Finding("error", path.name, "malformed_row", message, row=line, total=len(dropped)))

    def read_rows(self, spec: TableSpec, path: Path, info: FileInfo) -> None:
        header = read_header(path)
        if isinstance(header, Finding):
            self.add(header)
            return
        header_errors = check_header(spec, path, header)
        if header_errors:
            self.report.findings.extend(header_errors)
            return
        findings, rejected = read_into(self.con, spec, path, f"raw.{spec.table}", self.max_examples)
        self.report.findings.extend(findings)
        if findings and not rejected:  # the read itself failed: there is no table
            return
        self.rejected[spec.table] = rejected
        info.rows = self.con.execute(f"select count(*) from raw.{spec.table}").fetchall()[0][0] + len(rejected)
        if info.rows == 0 and not (spec.table == "student_vle" and self.checks.clicks_since is not None):
            # (a delta click log of a week without clicks is empty: after every presentation's end, between terms)
            self.add(Finding("error", path.name, "empty_file", "file has a header but no data rows", row=2))
            return
        self.loaded[spec.table] = path

    def add_examples(self, spec: TableSpec, rule: str, message: str, column: str, bad: str, total: int) -> None:
        """Findings for the first rows of relation ``bad`` (columns: rowid, value, ...) breaking ``rule``."""
        path = self.loaded[spec.table]
        examples = self.con.execute(f"select * from ({bad}) order by 1 limit {self.max_examples}").fetchall()
        for rowid, value, *_ in examples:
            self.add(
                Finding(
                    "error",
                    path.name,
                    rule,
                    message,
                    column=column,
                    row=self.line(spec.table, rowid),
                    value=None if value is None else str(value),
                    total=total,
                )
            )

    def check_values(self, spec: TableSpec) -> None:
        table = f"raw.{spec.table}"
        live = self.checks.as_of is not None
        rules = [(col, rule) for col in spec.columns for rule in value_rules(col, live)]
        nullable = [c for c in spec.columns if c.nullable]
        counts_sql = [
            f'(select count(*) filter (where {rule.condition}) from (select distinct "{col.name}" from {table}))'
            if rule.per_value
            else f"count(*) filter (where {rule.condition})"
            for col, rule in rules
        ]
        counts_sql += [f'count(*) filter (where "{c.name}" is null)' for c in nullable]
        counts = self.con.execute(f"select {', '.join(counts_sql)} from {table}").fetchall()[0]
        for (col, rule), total in zip(rules, counts, strict=False):
            if not total:
                continue
            bad = f'select rowid, "{col.name}" from {table} where {rule.condition}'
            if rule.per_value:  # ``total`` counted distinct values: count the rows
                total = self.con.execute(f"select count(*) from ({bad})").fetchall()[0][0]
            self.add_examples(spec, rule.name, rule.message, col.name, bad, total)
        missing = {c.name: n for c, n in zip(nullable, counts[len(rules) :], strict=False) if n}
        if missing:
            self.report.missing_values[spec.file_stem] = missing

    def check_event_days(self) -> None:
        for table, column in EVENT_DAYS:
            if {table, "courses"} <= self.loaded.keys():
                probe, bad, message = event_day_rule(table, column, self.checks)
                if not self.con.execute(probe).fetchall()[0][0]:
                    continue
                total = self.con.execute(f"select count(*) from ({bad})").fetchall()[0][0]
                self.add_examples(BY_TABLE[table], "event_day", message, column, bad, total)

    def check_live_export(self) -> None:
        """The rules of an export as of a date (:mod:`laip.ingest.live_export`)."""
        for r in live_rules(self.checks, set(self.loaded)):
            total = self.con.execute(f"select count(*) from ({r.bad})").fetchall()[0][0]
            if total:
                self.add_examples(BY_TABLE[r.table], r.rule, r.message, r.column, r.bad, total)

    def check_primary_key(self, spec: TableSpec) -> None:
        if not spec.primary_key:
            return
        path = self.loaded[spec.table]
        keys = ", ".join(f'"{k}"' for k in spec.primary_key)
        dupes = self.con.execute(
            f"""select count(*) over () as total, first_row, dup_row, key from (
                  select min(rowid) as first_row, max(rowid) as dup_row,
                         any_value(concat_ws(', ', {", ".join(f'"{k}"' for k in spec.primary_key)})) as key
                  from raw.{spec.table} group by {keys} having count(*) > 1)
                order by dup_row limit {self.max_examples}"""
        ).fetchall()
        for total, first, dup, key in dupes:
            self.add(
                Finding(
                    "error",
                    path.name,
                    "duplicate_key",
                    f"duplicate primary key ({', '.join(spec.primary_key)}); "
                    f"first seen on line {self.line(spec.table, first)}",
                    column=",".join(spec.primary_key),
                    row=self.line(spec.table, dup),
                    value=key,
                    total=total,
                )
            )

    def check_foreign_key(
        self,
        spec: TableSpec,
        child_cols: tuple[str, ...],
        parent: TableSpec,
        parent_cols: tuple[str, ...],
        parent_sql: str | None = None,
    ) -> None:
        path = self.loaded[spec.table]
        on = " and ".join(f'c."{a}" = p."{b}"' for a, b in zip(child_cols, parent_cols, strict=False))
        parent_rel = parent_sql or f"raw.{parent.table}"
        keys = ", ".join(f'"{a}"' for a in child_cols)
        distinct = f"(select distinct {keys} from raw.{spec.table}) c anti join {parent_rel} p on {on}"
        if not self.con.execute(f"select count(*) from {distinct}").fetchall()[0][0]:
            return  # every key has its parent (checked once per distinct key: cheap on the click log)
        bad = f"raw.{spec.table} c anti join {parent_rel} p on {on}"
        total = self.con.execute(f"select count(*) from {bad}").fetchall()[0][0]
        cols = ", ".join(f'c."{a}"' for a in child_cols)
        rows = self.con.execute(
            f"select c.rowid, concat_ws(', ', {cols}) from {bad} order by c.rowid limit {self.max_examples}"
        ).fetchall()
        target = f"{parent.file_stem}({', '.join(parent_cols)})"
        for rowid, value in rows:
            self.add(
                Finding(
                    "error",
                    path.name,
                    "foreign_key",
                    f"no matching row in {target}",
                    column=",".join(child_cols),
                    row=self.line(spec.table, rowid),
                    value=value,
                    total=total,
                )
            )

    def check_relations(self) -> None:
        for spec in TABLES:
            if spec.table not in self.loaded:
                continue
            for fk in spec.foreign_keys:
                if fk.ref_table in self.loaded:
                    self.check_foreign_key(spec, fk.columns, BY_TABLE[fk.ref_table], fk.ref_columns)
        # A submission's student must be registered on the assessment's module-presentation.
        if {"student_assessment", "assessments", "student_registration"} <= self.loaded.keys():
            registered = (
                "(select a.id_assessment, r.id_student from raw.assessments a join raw.student_registration r"
                " using (code_module, code_presentation))"
            )
            self.check_foreign_key(
                BY_TABLE["student_assessment"],
                ("id_assessment", "id_student"),
                BY_TABLE["student_registration"],
                ("id_assessment", "id_student"),
                registered,
            )


def validate(
    data_dir: Path,
    checks: Checks | None = None,
    *,
    contents: Mapping[str, FileDigest | Future[FileDigest]] | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> Report:
    """Validate the raw files in ``data_dir`` and return the report (``report.ok`` tells the verdict).

    The files are read into typed tables ``raw.<table>`` of ``con`` (the load's new warehouse file), or of a
    database in memory that is dropped afterwards. ``contents`` (path -> digest, or a Future of it) spares hashing
    files again that the caller hashes anyway (the load, beside the read)."""
    start = time.perf_counter()
    own = con is None
    connection = duckdb.connect() if con is None else con
    checks, wrong_declaration = with_declaration(Path(data_dir), checks or Checks())
    v = _Validator(connection, Path(data_dir), checks, contents or {})
    if wrong_declaration is not None:
        v.add(wrong_declaration)
    try:
        connection.execute("create schema if not exists raw")
        for spec in TABLES:
            v.read_file(spec)
        for spec in TABLES:
            if spec.table in v.loaded:
                v.check_values(spec)
                v.check_primary_key(spec)
        v.check_event_days()
        v.check_live_export()
        v.check_relations()
        if {"courses", "student_vle"} <= v.loaded.keys() and checks.clicks_since is None:  # a delta: once appended
            v.report.click_coverage, warnings = measure_click_coverage(
                connection, v.loaded["student_vle"].name, v.checks
            )
            v.report.findings.extend(warnings)
    finally:
        if own:
            connection.close()
    report = v.report
    report.ok = not report.errors
    report.seconds = round(time.perf_counter() - start, 3)
    return report
