"""The bad-input catalogue: each case breaks a copy of the sample in one way and says where the error is.

Used by the fast validation tests and by the integration test that checks the published warehouse stays
byte-for-byte unchanged.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\r\n")


def _write(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"\r\n".join(lines))


def _replace_field(path: Path, line_no: int, field_idx: int, value: bytes) -> None:
    lines = _lines(path)
    fields = lines[line_no - 1].split(b",")
    fields[field_idx] = value
    lines[line_no - 1] = b",".join(fields)
    _write(path, lines)


def missing_file(d: Path) -> None:
    (d / "assessments.csv").unlink()


def missing_column(d: Path) -> None:
    lines = _lines(d / "courses.csv")
    _write(d / "courses.csv", [b",".join(ln.split(b",")[:2]) if ln else ln for ln in lines])


def extra_column(d: Path) -> None:
    lines = _lines(d / "vle.csv")
    _write(d / "vle.csv", [ln + (b',"note"' if i == 0 else b',"x"') if ln else ln for i, ln in enumerate(lines)])


def wrong_type(d: Path) -> None:
    _replace_field(d / "studentAssessment.csv", 101, 4, b'"eighty"')


def duplicate_key(d: Path) -> None:
    path = d / "studentInfo.csv"
    lines = _lines(path)
    lines.insert(50, lines[9])  # line 10 repeated as line 51
    _write(path, lines)


def orphan_foreign_key(d: Path) -> None:
    _replace_field(d / "studentVle.csv", 201, 3, b'"999999999"')  # id_site that does not exist


def negative_clicks(d: Path) -> None:
    _replace_field(d / "studentVle.csv", 301, 5, b'"-4"')


def empty_file(d: Path) -> None:
    (d / "studentRegistration.csv").write_bytes(b"")


def truncated_gzip(d: Path) -> None:
    src = d / "studentAssessment.csv"
    data = gzip.compress(src.read_bytes())
    src.unlink()
    (d / "studentAssessment.csv.gz").write_bytes(data[: len(data) // 2])


def non_utf8(d: Path) -> None:
    path = d / "studentInfo.csv"
    lines = _lines(path)
    lines[76] = lines[76].replace(b"Region", b"R\xe9gion", 1)  # Latin-1 byte on line 77
    _write(path, lines)


def click_day_beyond_the_module(d: Path) -> None:
    _replace_field(d / "studentVle.csv", 401, 4, b'"99999"')  # the day of a click, far past any module's end


def junk_line(d: Path) -> None:
    path = d / "studentVle.csv"
    lines = _lines(path)
    lines[500] = b"x" * 3_000_000  # one 3 MB line without a separator (over DuckDB's 2 MB line limit)
    _write(path, lines)


def oversized_line(d: Path) -> None:
    path = d / "studentAssessment.csv"
    lines = _lines(path)
    lines[1000] = b"x" * 40_000_000  # beyond DuckDB's read buffer, where its reader drops a line without a word
    _write(path, lines)


def doubled_carriage_returns(d: Path) -> None:
    path = d / "vle.csv"
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\r\r\n"))


@dataclass(frozen=True)
class Case:
    name: str
    breaker: Callable[[Path], None]
    file: str  # file name the error must name
    rule: str
    column: str | None = None
    row: int | None = None  # line number the error must name (None: not row-specific)


CASES: tuple[Case, ...] = (
    Case("missing_file", missing_file, "assessments.csv", "missing_file"),
    Case("missing_column", missing_column, "courses.csv", "missing_column", "module_presentation_length", 1),
    Case("extra_column", extra_column, "vle.csv", "extra_column", "note", 1),
    Case("wrong_type", wrong_type, "studentAssessment.csv", "type", "score", 101),
    Case(
        "duplicate_key",
        duplicate_key,
        "studentInfo.csv",
        "duplicate_key",
        "code_module,code_presentation,id_student",
        51,
    ),
    Case(
        "orphan_foreign_key",
        orphan_foreign_key,
        "studentVle.csv",
        "foreign_key",
        "id_site,code_module,code_presentation",
        201,
    ),
    Case("negative_clicks", negative_clicks, "studentVle.csv", "range", "sum_click", 301),
    Case("empty_file", empty_file, "studentRegistration.csv", "empty_file", None, 1),
    Case("truncated_gzip", truncated_gzip, "studentAssessment.csv.gz", "unreadable"),
    Case("non_utf8", non_utf8, "studentInfo.csv", "encoding", None, 77),
    Case("click_day_beyond_the_module", click_day_beyond_the_module, "studentVle.csv", "event_day", "date", 401),
    Case("junk_line", junk_line, "studentVle.csv", "malformed_row", None, 501),
    Case("oversized_line", oversized_line, "studentAssessment.csv", "malformed_row", None, 1001),
    Case("doubled_carriage_returns", doubled_carriage_returns, "vle.csv", "malformed_row", None, 1),
)
