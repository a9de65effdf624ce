"""Reading a raw file before its values are checked: gzip and UTF-8 intact, the header exactly as the contract says,
and, when DuckDB's CSV reader fails, the line and text that broke it."""

from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from pathlib import Path

import duckdb

from laip.ingest.acquire import candidates
from laip.ingest.report import Finding
from laip.ingest.schema import TableSpec


def locate(data_dir: Path, spec: TableSpec) -> Path | Finding:
    """The one file of ``spec`` in ``data_dir``, or why there is none: missing, or both ``X.csv`` and ``X.csv.gz``
    (which one is the data is never guessed)."""
    present = candidates(data_dir, spec.file_stem)
    if len(present) == 1:
        return present[0]
    name = f"{spec.file_stem}.csv"
    if not present:
        return Finding("error", name, "missing_file", f"file not found in {data_dir} (looked for .csv and .csv.gz)")
    both = " and ".join(p.name for p in present)
    return Finding(
        "error",
        name,
        "ambiguous_file",
        f"both {both} are in {data_dir}: keep one (which one is the data is not guessed)",
    )


def open_text_probe(path: Path) -> io.BufferedReader | gzip.GzipFile:
    return gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb")


def read_header(path: Path) -> list[str] | Finding:
    """The header fields of ``path`` or a Finding saying why it cannot be read."""
    name = path.name
    if path.stat().st_size == 0:
        return Finding("error", name, "empty_file", "file is empty (0 bytes, no header)", row=1)
    try:
        with open_text_probe(path) as fh:
            first = fh.readline()
    except (OSError, EOFError, zlib.error) as exc:
        return Finding("error", name, "unreadable", f"cannot read file: {exc}", row=1)
    if not first.strip():
        return Finding("error", name, "empty_file", "file has no header line", row=1)
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Finding("error", name, "encoding", f"header is not UTF-8 ({exc.reason})", row=1)
    return next(csv.reader([text.rstrip("\r\n")]))


def check_header(spec: TableSpec, path: Path, header: list[str]) -> list[Finding]:
    name, expected = path.name, spec.column_names
    out = [
        Finding("error", name, "missing_column", "required column is missing from the header", column=c, row=1)
        for c in expected
        if c not in header
    ]
    out += [
        Finding("error", name, "extra_column", "unexpected column in the header", column=c, row=1)
        for c in header
        if c not in expected
    ]
    if not out and header != expected:
        out.append(
            Finding(
                "error",
                name,
                "column_order",
                f"columns out of order; expected {', '.join(expected)}",
                row=1,
                value=",".join(header),
            )
        )
    return out


def locate_stream_error(path: Path) -> Finding:
    """Find where a file stops being readable (truncated/corrupt gzip, bad bytes, a carriage return inside a line),
    by line number."""
    name, line = path.name, 0
    try:
        with open_text_probe(path) as fh:
            for raw in fh:
                line += 1
                if b"\r" in raw.rstrip(b"\r\n") or raw.endswith(b"\r\r\n"):
                    return Finding(
                        "error",
                        name,
                        "malformed_row",
                        "carriage return (\\r) inside the line: lines must end in \\n or \\r\\n "
                        "(\\r\\r\\n endings, or a stray \\r in a value)",
                        row=line,
                        value=raw[-40:].decode("latin-1"),
                    )
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    return Finding(
                        "error",
                        name,
                        "encoding",
                        f"bytes are not UTF-8 ({exc.reason})",
                        row=line,
                        value=raw[max(exc.start - 10, 0) : exc.end + 10].decode("latin-1"),
                    )
    except (EOFError, OSError, zlib.error) as exc:
        kind = "truncated" if isinstance(exc, EOFError) else "corrupt"
        return Finding(
            "error",
            name,
            "unreadable",
            f"compressed stream is {kind} ({exc}); data ends after line {line}",
            row=line + 1,
        )
    return Finding("error", name, "unreadable", "file could not be parsed as CSV")


def long_lines(path: Path, limit: int) -> list[tuple[int, int]]:
    """(line number, length in bytes) of every line of ``path`` longer than ``limit`` bytes (slow: failures only)."""
    found: list[tuple[int, int]] = []
    line, length = 1, 0
    with open_text_probe(path) as fh:
        while block := fh.read(1 << 22):
            start = 0
            while (end := block.find(b"\n", start)) >= 0:
                length += end - start
                if length > limit:
                    found.append((line, length))
                line, length, start = line + 1, 0, end + 1
            length += len(block) - start
    if length > limit:
        found.append((line, length))
    return found


_LINE = re.compile(r"Line: (\d+)")
_ORIGINAL = re.compile(r"Original Line:\s*\n?(.*)")


def csv_error_finding(path: Path, exc: duckdb.Error) -> Finding:
    text = str(exc)
    m = _LINE.search(text)
    if m is None:
        return locate_stream_error(path)
    detail = next(
        (
            ln.strip()
            for ln in text.splitlines()
            if ln.strip()
            and not ln.startswith(("CSV Error", "Original Line", "Invalid Input", "Possible", "*", "  "))
            and not ln.strip().startswith('"')
        ),
        "row cannot be parsed",
    )
    if "unicode" in text.lower():
        return locate_stream_error(path)
    original = _ORIGINAL.search(text)
    value = original.group(1).strip()[:200] if original else None
    return Finding("error", path.name, "malformed_row", detail, row=int(m.group(1)), value=value)
