"""Read one raw file into a typed DuckDB table in one pass, keeping every row that does not parse as a finding.

DuckDB's CSV reader parses each value straight into the contract's type; rows it cannot take (a value of the
wrong type, too many or too few fields, an unterminated quote, bytes that are not UTF-8, an over-long line) go
to a rejects table with their line and byte offset instead of stopping the read. Each becomes a
:class:`~laip.ingest.report.Finding` naming file, line, column and value. Errors the reader cannot skip (a broken
gzip stream, a parser state it cannot leave, such as ``\\r\\r\\n`` line endings) are located by
:func:`~laip.ingest.file_checks.locate_stream_error`.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from laip.ingest.file_checks import csv_error_finding
from laip.ingest.report import Finding
from laip.ingest.schema import NULL_MARKERS, TableSpec

#: Rejected rows kept per file; beyond that the file is broken anyway and the count says "at least".
REJECTS_LIMIT = 100_000
#: DuckDB's default ``max_line_size``: a longer line is rejected (or, beyond its read buffer, silently dropped).
MAX_LINE_BYTES = 2_000_000
REJECTS = "laip_rejects"
REJECT_SCANS = "laip_reject_scans"
_VALUE_CHARS = 200


def read_csv_sql(spec: TableSpec) -> str:
    """The DuckDB ``read_csv`` call that reads one raw file with the contract's explicit types (one ``?`` param);
    rows that do not parse go to the temporary table ``laip_rejects`` instead of failing the read."""
    columns = {c.name: c.type for c in spec.columns}
    nulls = list(NULL_MARKERS)
    return (
        f"read_csv(?, header=true, columns={columns!r}, nullstr={nulls!r}, delim=',', quote='\"', "
        "escape='\"', auto_detect=false, strict_mode=true, "
        f"store_rejects=true, rejects_table='{REJECTS}', rejects_scan='{REJECT_SCANS}', rejects_limit={REJECTS_LIMIT})"
    )


def _field(line: str | None, index: int | None) -> str | None:
    """Field ``index`` (1-based) of a rejected CSV line, or None."""
    if line is None or index is None:
        return None
    try:
        fields = next(csv.reader([line.rstrip("\r\n")]))
    except (csv.Error, StopIteration):
        return None
    return fields[index - 1][:_VALUE_CHARS] if 0 < index <= len(fields) else None


def _reject_finding(spec: TableSpec, path: Path, row: tuple, total: int) -> Finding:
    line, byte, column, error_type, csv_line, message = row
    csv_line = (csv_line or "")[: _VALUE_CHARS * 4]
    if error_type == "CAST" and column in spec.column_names:
        return Finding(
            "error",
            path.name,
            "type",
            f"value does not parse as {spec.column(column).type}",
            column=column,
            row=line,
            value=_field(csv_line, spec.column_names.index(column) + 1),
            total=total,
        )
    rule = "encoding" if error_type == "INVALID ENCODING" else "malformed_row"
    return Finding(
        "error",
        path.name,
        rule,
        f"{message.split('.')[0].strip()} (byte offset {byte})",
        column=column,
        row=line,
        value=csv_line[:_VALUE_CHARS],
        total=total,
    )


def read_into(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, path: Path, table: str, max_examples: int
) -> tuple[list[Finding], list[int]]:
    """Create ``table`` from ``path`` (typed, one pass). Returns the findings for rows that did not parse (the first
    ``max_examples`` lines with the total) and the sorted line numbers rejected (they are missing from ``table``)."""
    try:
        con.execute(f"create table {table} as select * from {read_csv_sql(spec)}", [str(path)])
    except duckdb.Error as exc:
        return [csv_error_finding(path, exc)], []
    scan = f"(select scan_id from {REJECT_SCANS} where file_path = ? order by scan_id desc limit 1)"
    lines = [
        r[0]
        for r in con.execute(
            f"select distinct line from {REJECTS} where scan_id = {scan} order by line", [str(path)]
        ).fetchall()
    ]
    if not lines:
        return [], []
    first = con.execute(
        f"""select line, byte_position, column_name, error_type, csv_line, error_message from (
              select *, row_number() over (
                  partition by line order by error_type = 'CAST', column_idx nulls first) as nth  -- structure first
              from {REJECTS} where scan_id = {scan}) where nth = 1 order by line limit {max_examples}""",
        [str(path)],
    ).fetchall()
    total = len(lines)
    findings = [_reject_finding(spec, path, row, total) for row in first]
    if total >= REJECTS_LIMIT and findings:
        findings[0].message += f" (counting stopped at {REJECTS_LIMIT:,} rejected rows)"
    return findings, lines


def line_of(index: int, rejected: list[int]) -> int:
    """The file line of the ``index``-th (0-based) row kept in the table, given the sorted rejected lines."""
    line = index + 2  # the header is line 1
    for skipped in rejected:
        if skipped <= line:
            line += 1
        else:
            break
    return line
