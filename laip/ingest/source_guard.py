"""Refuse a load that would quietly replace the data this ``LAIP_HOME`` was loaded with by another kind of data.

A run's data is compared with the last load's (``meta.load_manifest`` and ``raw.courses`` of the warehouse, on either
engine) by family: **the bundled sample** (its files, byte for byte) or **real data**, and the module-presentations it
covers.
New rows, new files of the same data and new presentations are updates and pass; a switch between the sample and
real data, or data that lacks presentations the last load had, is a *change of source* and fails with one line
saying what changed, unless the run confirms it (``--confirm-source-change``, DAG param ``confirm_source_change``).
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from pathlib import Path

import duckdb

from laip.ingest.acquire import find_file, sha256_of
from laip.ingest.schema import TABLES

COURSES_STEM = "courses"
COURSES = "raw.courses"  # the presentations of the last load
CONFIRM_HINT = "if this is intended, run again with --confirm-source-change (DAG param confirm_source_change=true)"


class SourceChanged(ValueError):
    """The run's data is of another family than the last load's and the change was not confirmed."""


@dataclass(frozen=True)
class SourceFamily:
    is_sample: bool
    presentations: frozenset[str]  # "AAA 2013J", ...
    where: str

    def describe(self) -> str:
        kind = "the bundled sample" if self.is_sample else "real data"
        return f"{kind} ({len(self.presentations)} module-presentations, {self.where})"


def sample_digests(sample_dir: Path) -> dict[str, str]:
    """{file name: sha256} of the committed sample (1.8 MB: cheap)."""
    return {p.name: sha256_of(p) for spec in TABLES if (p := find_file(sample_dir, spec.file_stem)) is not None}


def _is_sample_dir(data_dir: Path, sample_dir: Path) -> bool:
    if data_dir.resolve() == sample_dir.resolve():
        return True
    expected = sample_digests(sample_dir)
    files = {spec.file_stem: find_file(data_dir, spec.file_stem) for spec in TABLES}
    if any(p is None or p.name not in expected for p in files.values()):
        return False
    # sizes first: real data never has the sample's sizes, so its files are not hashed here
    paths = [p for p in files.values() if p is not None]
    sizes = {p.name: (sample_dir / p.name).stat().st_size for p in paths}
    return all(p.stat().st_size == sizes[p.name] for p in paths) and all(
        sha256_of(p) == expected[p.name] for p in paths
    )


def _presentations_in_file(path: Path) -> frozenset[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as raw:
            rows = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
            return frozenset(f"{r['code_module']} {r['code_presentation']}" for r in rows)
    except (OSError, UnicodeDecodeError, KeyError, csv.Error, EOFError):
        return frozenset()  # unreadable: validation names the problem


def family_of_dir(data_dir: Path, sample_dir: Path) -> SourceFamily:
    courses = find_file(data_dir, COURSES_STEM)
    return SourceFamily(
        _is_sample_dir(data_dir, sample_dir),
        _presentations_in_file(courses) if courses else frozenset(),
        str(data_dir),
    )


def family_of_warehouse(warehouse: Path, sample_dir: Path) -> SourceFamily | None:
    """The family of the DuckDB warehouse's last load, or None when nothing was ever loaded into it."""
    if not warehouse.is_file():
        return None
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return family_of_load(con, sample_dir)
    except duckdb.Error:
        return None


def family_of_load(con: duckdb.DuckDBPyConnection, sample_dir: Path) -> SourceFamily | None:
    """The family of the load whose ``meta.load_manifest`` and ``raw.courses`` ``con`` reads, or None when nothing
    was loaded (on Spark: views over its Parquet files, :func:`laip.warehouse.engine.last_load`)."""
    try:
        manifest = con.execute("select file_name, sha256, source, source_dir from meta.load_manifest").fetchall()
        presentations = con.execute(f"select code_module || ' ' || code_presentation from {COURSES}").fetchall()
    except duckdb.Error:
        return None
    if not manifest:
        return None
    expected = sample_digests(sample_dir)
    sources = {r[2] for r in manifest}
    source_dir = manifest[0][3]
    is_sample = (
        sources == {"sample"}
        or Path(source_dir).resolve() == sample_dir.resolve()
        or all(expected.get(name) == sha for name, sha, *_ in manifest)
    )
    return SourceFamily(is_sample, frozenset(p for (p,) in presentations), source_dir)


def check_source(before: SourceFamily, data_dir: Path, sample_dir: Path, *, confirmed: bool = False) -> str | None:
    """None when ``data_dir`` may be loaded over a last load of family ``before`` (:func:`family_of_load`)
    without confirmation (the same family); the change in one line when ``confirmed``; raises
    :class:`SourceChanged` otherwise."""
    now = family_of_dir(data_dir, sample_dir)
    problems = []
    if before.is_sample != now.is_sample:
        problems.append(f"the last load was {before.describe()}, this run's data is {now.describe()}")
    lost = sorted(before.presentations - now.presentations) if now.presentations else []
    if lost:
        problems.append(
            f"{data_dir} lacks {len(lost)} module-presentations of the last load "
            f"({', '.join(lost[:4])}{', ...' if len(lost) > 4 else ''})"
        )
    if not problems:
        return None
    message = "data source changed: " + "; ".join(problems)
    if confirmed:
        return message
    raise SourceChanged(f"{message}; the warehouse is unchanged: {CONFIRM_HINT}")
