"""Loading into a real DuckDB file: explicit types, manifest, idempotency, and atomicity on failure."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest
from support.bad_input import oversized_line
from support.files import digest

from laip.config import Settings
from laip.ingest.acquire import digest_file, sha256_of
from laip.ingest.load import load
from laip.ingest.report import ValidationError


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
    assert by_name["studentVle.csv.gz"] == digest_file(sample_dir / "studentVle.csv.gz").sha256
    assert nulls[0] > 1000  # empty strings are NULL, not 0


def test_reload_of_unchanged_files_is_a_no_op(settings: Settings, sample_dir: Path) -> None:
    load(sample_dir, settings.warehouse, settings.reports_dir)
    before = (digest(settings.warehouse), settings.warehouse.stat().st_mtime_ns)
    again = load(sample_dir, settings.warehouse, settings.reports_dir)
    assert not again.changed
    assert (digest(settings.warehouse), settings.warehouse.stat().st_mtime_ns) == before


def test_invalid_data_leaves_the_warehouse_untouched(settings: Settings, sample_dir: Path, plain_sample: Path) -> None:
    load(sample_dir, settings.warehouse, settings.reports_dir)
    before = digest(settings.warehouse)
    (plain_sample / "courses.csv").write_bytes(b"")
    with pytest.raises(ValidationError, match=r"courses\.csv"):
        load(plain_sample, settings.warehouse, settings.reports_dir)
    assert digest(settings.warehouse) == before


def test_crash_mid_load_leaves_the_warehouse_untouched(
    settings: Settings, plain_sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The load failing after the files were read into the new file (here: writing the manifest) leaves the last
    good warehouse as it was, and no temporary file."""
    import laip.ingest.load as loader

    load(plain_sample, settings.warehouse, settings.reports_dir)
    before = digest(settings.warehouse)

    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(loader, "write_manifest", disk_full)
    with pytest.raises(OSError, match="No space"):
        load(plain_sample, settings.warehouse, settings.reports_dir, force=True)
    assert digest(settings.warehouse) == before
    assert not list(settings.warehouse.parent.glob("*.loading*"))


def test_a_file_changed_in_place_is_validated_again(settings: Settings, plain_sample: Path) -> None:
    """A passing report is reused only for the same file contents (sha256), never for the same size and mtime."""
    load(plain_sample, settings.warehouse, settings.reports_dir)
    before = digest(settings.warehouse)
    victim = plain_sample / "studentVle.csv"
    st = victim.stat()
    data = bytearray(victim.read_bytes())
    pos = data.rindex(b",", 0, data.index(b"\r\n", len(data) // 2)) + 2  # the sum_click of a row mid-file ("12")
    assert data[pos : pos + 1].isdigit()
    data[pos : pos + 1] = b"-"  # same size: a value that breaks a rule
    victim.write_bytes(bytes(data))
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))  # size and mtime as validated
    with pytest.raises(ValidationError, match=r"studentVle\.csv"):
        load(plain_sample, settings.warehouse, settings.reports_dir)
    assert digest(settings.warehouse) == before


def test_a_load_carries_the_model_tables_and_the_incremental_facts(settings: Settings, sample_dir: Path) -> None:
    """Schemas ``ml`` (the registered models' tables) and ``incremental`` (dbt's incremental facts) survive a load of
    new data; everything the build derives from the raw data (staging, marts...) does not."""
    load(sample_dir, settings.warehouse, settings.reports_dir)
    with duckdb.connect(str(settings.warehouse)) as con:
        for schema in ("ml", "incremental", "marts"):
            con.execute(f"create schema {schema}; create table {schema}.t as select 42 as answer")
    load(sample_dir, settings.warehouse, settings.reports_dir, force=True)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        kept = con.execute("select schema_name, table_name from duckdb_tables() where schema_name != 'raw'").fetchall()
        answers = {s: con.execute(f"select answer from {s}.t").fetchall() for s in ("ml", "incremental")}
    assert sorted(kept) == [("incremental", "t"), ("meta", "load_manifest"), ("ml", "t")]
    assert answers == {"ml": [(42,)], "incremental": [(42,)]}


def test_manifest_rows_are_the_same_for_both_engines_with_an_aware_load_time(sample_dir: Path) -> None:
    """One row per file in MANIFEST_COLUMNS' order (the Spark load writes the same rows): one load id, a load time
    in UTC whatever the host's zone, the export's date as a date."""
    from datetime import UTC, date

    from laip.ingest.load import MANIFEST_COLUMNS, manifest_rows
    from laip.ingest.validate import validate

    report = validate(sample_dir)
    rows = manifest_rows(report.files, sample_dir, "sample", "2014-11-03")
    assert len(rows) == 7 and all(len(r) == len(MANIFEST_COLUMNS) for r in rows)
    names = [name for name, _ in MANIFEST_COLUMNS]
    first = dict(zip(names, rows[0], strict=True))
    assert first["loaded_at"].tzinfo is UTC and first["as_of_date"] == date(2014, 11, 3)
    assert {r[names.index("load_id")] for r in rows} == {first["loaded_at"].strftime("%Y%m%dT%H%M%SZ")}
    assert manifest_rows(report.files, sample_dir, "sample", None)[0][-1] is None


def test_a_line_the_reader_drops_is_named_by_the_load(settings: Settings, plain_sample: Path) -> None:
    """The load counts each file's lines beside DuckDB's read (not before it): a line over the reader's limit, which
    DuckDB drops without a word, still fails the load with its line number, and the warehouse is not created."""
    oversized_line(plain_sample)
    with pytest.raises(ValidationError) as failed:
        load(plain_sample, settings.warehouse, settings.reports_dir)
    assert [(f.file, f.row) for f in failed.value.report.errors if f.rule == "malformed_row"] == [
        ("studentAssessment.csv", 1001)
    ]
    assert not settings.warehouse.exists()


def test_sha256_of_is_the_stored_bytes_digest(sample_dir: Path) -> None:
    path = sample_dir / "studentVle.csv.gz"
    assert sha256_of(path) == digest_file(path).sha256 == digest(path)
