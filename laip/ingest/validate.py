"""Validate the seven raw OULAD files against :mod:`laip.ingest.schema` before anything is loaded.

Checks: every file present and readable (gzip intact, UTF-8, rectangular CSV), exact headers, values
parse as their types, no missing values where none are allowed, domains and ranges, primary keys unique,
foreign keys hold. Every error names the file, column, line number (the header is line 1) and value;
the first few rows per failing rule are listed with the total count. Click-log coverage is measured and
reported as warnings, never errors: a presentation without click log is a fact about the data.

All heavy work runs inside DuckDB (its CSV reader and set-based queries), so the full data validates in
seconds.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import duckdb

from laip.ingest.acquire import sha256_file
from laip.ingest.file_checks import check_header, csv_error_finding, locate, read_header
from laip.ingest.report import FileInfo, Finding, Report
from laip.ingest.schema import BY_TABLE, TABLES, Column, TableSpec


def _value_rules(col: Column) -> list[tuple[str, str, str]]:
    """(rule, SQL condition selecting bad rows, message) for one column; column read as VARCHAR."""
    c = f'"{col.name}"'
    present = f"{c} is not null and {c} <> '?'"
    rules: list[tuple[str, str, str]] = []
    if not col.nullable:
        rules.append(("missing_value", f"{c} is null or {c} = '?'", "missing value in a required column"))
    if col.type != "VARCHAR":
        rules.append(
            ("type", f"{present} and try_cast({c} as {col.type}) is null", f"value does not parse as {col.type}")
        )
    typed = f"try_cast({c} as DOUBLE)"
    if col.min is not None:
        op = "<=" if col.min_exclusive else "<"
        bound = f"> {col.min:g}" if col.min_exclusive else f">= {col.min:g}"
        rules.append(("range", f"{typed} {op} {col.min}", f"value must be {bound}"))
    if col.max is not None:
        rules.append(("range", f"{typed} > {col.max}", f"value must be <= {col.max:g}"))
    if col.allowed is not None:
        allowed = ", ".join(f"'{v}'" for v in col.allowed)
        rules.append(("domain", f"{present} and {c} not in ({allowed})", f"value not in ({allowed})"))
    if col.pattern is not None:
        rules.append(
            (
                "format",
                f"{present} and not regexp_full_match({c}, '{col.pattern}')",
                f"value does not match {col.pattern}",
            )
        )
    return rules


def _typed(spec: TableSpec, name: str) -> str:
    col = spec.column(name)
    return f'"{name}"' if col.type == "VARCHAR" else f'try_cast("{name}" as {col.type})'


class _Validator:
    def __init__(self, data_dir: Path, max_examples: int, contents: Mapping[str, str]) -> None:
        self.data_dir = data_dir
        self.max_examples = max_examples
        self.contents = contents  # path -> sha256 the caller already computed
        self.con = duckdb.connect()
        self.report = Report(data_dir=str(data_dir))
        self.loaded: dict[str, Path] = {}  # raw table name -> file read into v_<table>

    def add(self, finding: Finding) -> None:
        self.report.findings.append(finding)

    def read_file(self, spec: TableSpec) -> None:
        path = locate(self.data_dir, spec)
        if isinstance(path, Finding):
            self.add(path)
            return
        stat = path.stat()
        info = FileInfo(
            spec.file_stem,
            str(path),
            stat.st_size,
            stat.st_mtime_ns,
            sha256=self.contents.get(str(path)) or sha256_file(path),
        )
        self.report.files.append(info)
        header = read_header(path)
        if isinstance(header, Finding):
            self.add(header)
            return
        header_errors = check_header(spec, path, header)
        if header_errors:
            self.report.findings.extend(header_errors)
            return
        columns = {c: "VARCHAR" for c in spec.column_names}
        try:
            self.con.execute(
                f"create table v_{spec.table} as select * from read_csv(?, header=true, columns={columns!r}, "
                "delim=',', quote='\"', escape='\"', nullstr='', auto_detect=false, strict_mode=true)",
                [str(path)],
            )
        except duckdb.Error as exc:
            self.add(csv_error_finding(path, exc))
            return
        info.rows = self.con.execute(f"select count(*) from v_{spec.table}").fetchall()[0][0]
        if info.rows == 0:
            self.add(Finding("error", path.name, "empty_file", "file has a header but no data rows", row=2))
            return
        self.loaded[spec.table] = path

    def check_values(self, spec: TableSpec) -> None:
        path = self.loaded[spec.table]
        rules = [(col, *rule) for col in spec.columns for rule in _value_rules(col)]
        nullable = [c for c in spec.columns if c.nullable]
        counts_sql = [f"count(*) filter (where {cond})" for _, _, cond, _ in rules]
        counts_sql += [f'count(*) filter (where "{c.name}" is null or "{c.name}" = \'?\')' for c in nullable]
        counts = self.con.execute(f"select {', '.join(counts_sql)} from v_{spec.table}").fetchall()[0]
        for (col, rule, cond, message), total in zip(rules, counts, strict=False):
            if not total:
                continue
            examples = self.con.execute(
                f'select rowid + 2, "{col.name}" from v_{spec.table} where {cond} '
                f"order by rowid limit {self.max_examples}"
            ).fetchall()
            for row, value in examples:
                self.add(Finding("error", path.name, rule, message, column=col.name, row=row, value=value, total=total))
        missing = {c.name: n for c, n in zip(nullable, counts[len(rules) :], strict=False) if n}
        if missing:
            self.report.missing_values[spec.file_stem] = missing

    def check_primary_key(self, spec: TableSpec) -> None:
        if not spec.primary_key:
            return
        path = self.loaded[spec.table]
        keys = ", ".join(_typed(spec, k) for k in spec.primary_key)
        dupes = self.con.execute(
            f"""select count(*) over () as total, first_row, dup_row, key from (
                  select min(rowid) + 2 as first_row, max(rowid) + 2 as dup_row,
                         any_value(concat_ws(', ', {", ".join(f'"{k}"' for k in spec.primary_key)})) as key
                  from v_{spec.table} group by {keys} having count(*) > 1)
                order by dup_row limit {self.max_examples}"""
        ).fetchall()
        for total, first, dup, key in dupes:
            self.add(
                Finding(
                    "error",
                    path.name,
                    "duplicate_key",
                    f"duplicate primary key ({', '.join(spec.primary_key)}); first seen on line {first}",
                    column=",".join(spec.primary_key),
                    row=dup,
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
        parent_rel = parent_sql or f"v_{parent.table}"
        bad = f"v_{spec.table} c anti join {parent_rel} p on {on}"
        total = self.con.execute(f"select count(*) from {bad}").fetchall()[0][0]
        if not total:
            return
        cols = ", ".join(f'c."{a}"' for a in child_cols)
        rows = self.con.execute(
            f"select c.rowid + 2, concat_ws(', ', {cols}) from {bad} order by c.rowid limit {self.max_examples}"
        ).fetchall()
        target = f"{parent.file_stem}({', '.join(parent_cols)})"
        for row, value in rows:
            self.add(
                Finding(
                    "error",
                    path.name,
                    "foreign_key",
                    f"no matching row in {target}",
                    column=",".join(child_cols),
                    row=row,
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
                "(select a.id_assessment, r.id_student from v_assessments a join v_student_registration r"
                " using (code_module, code_presentation))"
            )
            self.check_foreign_key(
                BY_TABLE["student_assessment"],
                ("id_assessment", "id_student"),
                BY_TABLE["student_registration"],
                ("id_assessment", "id_student"),
                registered,
            )

    def measure_click_coverage(self, tolerance_days: int) -> None:
        if not {"courses", "student_vle"} <= self.loaded.keys():
            return
        rows = self.con.execute(
            """select c.code_module, c.code_presentation, try_cast(c.module_presentation_length as integer) as len,
                       count(v.sum_click) as click_rows, min(try_cast(v.date as integer)),
                       max(try_cast(v.date as integer)) as last_day
                from v_courses c left join v_student_vle v using (code_module, code_presentation)
                group by all order by 1, 2"""
        ).fetchall()
        for module, pres, length, n, first, last in rows:
            if n == 0:
                status = "missing"
            elif last is not None and length is not None and last >= length - tolerance_days:
                status = "complete"
            else:
                status = "partial"
            self.report.click_coverage.append(
                {
                    "code_module": module,
                    "code_presentation": pres,
                    "module_length": length,
                    "click_rows": n,
                    "first_click_day": first,
                    "last_click_day": last,
                    "status": status,
                }
            )
        missing = [
            f"{r['code_module']} {r['code_presentation']}"
            for r in self.report.click_coverage
            if r["status"] == "missing"
        ]
        partial = [
            f"{r['code_module']} {r['code_presentation']} (to day {r['last_click_day']} of {r['module_length']})"
            for r in self.report.click_coverage
            if r["status"] == "partial"
        ]
        name = self.loaded["student_vle"].name
        if missing:
            self.add(
                Finding(
                    "warning",
                    name,
                    "click_coverage",
                    f"no click log for {len(missing)} of {len(rows)} presentations: {', '.join(missing)}; "
                    "their click measures are unknown (NULL), not zero",
                    total=len(missing),
                )
            )
        if partial:
            self.add(
                Finding(
                    "warning",
                    name,
                    "click_coverage",
                    f"click log ends early for: {', '.join(partial)}; later days are unknown",
                    total=len(partial),
                )
            )


def validate(
    data_dir: Path, *, max_examples: int = 5, tolerance_days: int = 7, contents: Mapping[str, str] | None = None
) -> Report:
    """Validate the raw files in ``data_dir`` and return the report (``report.ok`` tells the verdict). ``contents``
    (path -> sha256) spares hashing files again that the caller already hashed (the load)."""
    start = time.perf_counter()
    v = _Validator(Path(data_dir), max_examples, contents or {})
    try:
        for spec in TABLES:
            v.read_file(spec)
        for spec in TABLES:
            if spec.table in v.loaded:
                v.check_values(spec)
                v.check_primary_key(spec)
        v.check_relations()
        v.measure_click_coverage(tolerance_days)
    finally:
        v.con.close()
    report = v.report
    report.ok = not report.errors
    report.seconds = round(time.perf_counter() - start, 3)
    return report
