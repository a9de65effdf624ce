"""Loading into a real DuckDB file: explicit types, manifest, idempotency, and atomicity on failure."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import duckdb
import pytest

from laip.config import Settings
from laip.ingest.load import load, sha256_file
from laip.ingest.report import ValidationError


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_load_creates_typed_raw_tables_and_manifest(settings: Settings, sample_dir: Path) -> None:
    result = load(sample_dir, settings.warehouse, settings.reports_dir, source="sample")
    assert result.changed and result.rows["student_vle"] == 447_314
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        types = dict(
            con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'raw' and table_name = 'student_assessment'"
            ).fetchall()
        )
        assert types == {
            "id_assessment": "INTEGER",
            "id_student": "INTEGER",
            "date_submitted": "INTEGER",
            "is_banked": "INTEGER",
            "score": "DOUBLE",
        }
        manifest = con.execute(
            "select file_name, sha256, row_count, source from meta.load_manifest order by file_name"
        ).fetchall()
        nulls = con.execute(
            "select count(*) from raw.student_registration where date_unregistration is null"
        ).fetchone()
    assert len(manifest) == 7
    assert all(src == "sample" for *_, src in manifest)
    by_name = {name: sha for name, sha, *_ in manifest}
    assert by_name["studentVle.csv.gz"] == sha256_file(sample_dir / "studentVle.csv.gz")
    assert nulls[0] > 1000  # empty strings are NULL, not 0


def test_reload_of_unchanged_files_is_a_no_op(settings: Settings, sample_dir: Path) -> None:
    load(sample_dir, settings.warehouse, settings.reports_dir)
    before = (_digest(settings.warehouse), settings.warehouse.stat().st_mtime_ns)
    again = load(sample_dir, settings.warehouse, settings.reports_dir)
    assert not again.changed and not again.validated
    assert (_digest(settings.warehouse), settings.warehouse.stat().st_mtime_ns) == before


def test_invalid_data_leaves_the_warehouse_untouched(settings: Settings, sample_dir: Path, plain_sample: Path) -> None:
    load(sample_dir, settings.warehouse, settings.reports_dir)
    before = _digest(settings.warehouse)
    (plain_sample / "courses.csv").write_bytes(b"")
    with pytest.raises(ValidationError, match=r"courses\.csv"):
        load(plain_sample, settings.warehouse, settings.reports_dir)
    assert _digest(settings.warehouse) == before


def test_crash_mid_load_leaves_the_warehouse_untouched(settings: Settings, plain_sample: Path) -> None:
    """A file that breaks after it was validated makes DuckDB fail half-way through the load."""
    load(plain_sample, settings.warehouse, settings.reports_dir)  # validated report is now cached
    before = _digest(settings.warehouse)
    victim = plain_sample / "studentVle.csv"  # loaded last: six tables are in the new file when it fails
    st = victim.stat()
    data = bytearray(victim.read_bytes())
    pos = data.index(b"\r\n", len(data) // 2) + 2
    data[pos : pos + 5] = b'"x","'  # same size: a broken row
    victim.write_bytes(bytes(data))
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))  # same fingerprint: validation is skipped
    with pytest.raises(duckdb.Error):
        load(plain_sample, settings.warehouse, settings.reports_dir, force=True)
    assert _digest(settings.warehouse) == before
    assert not list(settings.warehouse.parent.glob("*.loading*"))
