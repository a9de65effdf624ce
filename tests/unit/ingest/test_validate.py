"""Validation on the real sample, and the bad-input catalogue: every error names file, column and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.bad_input import CASES, Case

from laip.ingest.report import write_report
from laip.ingest.rules import Checks
from laip.ingest.validate import validate


def test_sample_passes_with_coverage_warnings(sample_dir: Path) -> None:
    report = validate(sample_dir)
    assert report.ok, report.summary()
    assert {f.rows for f in report.files if f.stem == "studentInfo"} == {1887}
    status = {(c["code_module"], c["code_presentation"]): c["status"] for c in report.click_coverage}
    assert status[("AAA", "2013J")] == "complete"
    assert status[("BBB", "2013J")] == "partial"
    assert status[("GGG", "2014J")] == "missing"
    assert [w.rule for w in report.warnings] == ["click_coverage", "click_coverage"]
    assert report.missing_values["studentRegistration"]["date_unregistration"] > 0


def test_report_is_json_with_totals(sample_dir: Path, tmp_path: Path) -> None:
    path = write_report(validate(sample_dir), tmp_path)
    body = json.loads(path.read_text())
    assert body["ok"] is True and body["error_count"] == 0 and body["warning_count"] == 2
    assert {"file", "rule", "message", "column", "row", "value", "total"} <= set(body["findings"][0])


def test_question_mark_is_a_counted_null_not_an_error(plain_sample: Path) -> None:
    path = plain_sample / "studentInfo.csv"
    lines = path.read_bytes().split(b"\r\n")
    for i in (5, 6, 7):
        fields = lines[i].split(b",")
        fields[6] = b'"?"'  # imd_band, as the UCI copy writes missing values
        lines[i] = b",".join(fields)
    path.write_bytes(b"\r\n".join(lines))
    report = validate(plain_sample)
    assert report.ok, report.summary()
    assert report.missing_values["studentInfo"]["imd_band"] >= 3


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_named_precisely(case: Case, plain_sample: Path) -> None:
    case.breaker(plain_sample)
    report = validate(plain_sample)
    assert not report.ok
    hits = [f for f in report.errors if f.rule == case.rule and f.file == case.file]
    assert hits, report.summary()
    hit = hits[0]
    if case.column is not None:
        assert hit.column == case.column, hit.render()
    if case.row is not None:
        assert hit.row == case.row, hit.render()
    rendered = hit.render()
    assert case.file in rendered and "ERROR" in rendered


def test_examples_are_capped_but_total_is_counted(plain_sample: Path) -> None:
    path = plain_sample / "studentVle.csv"
    lines = path.read_bytes().split(b"\r\n")
    for i in range(1, 41):
        fields = lines[i].split(b",")
        fields[5] = b'"0"'
        lines[i] = b",".join(fields)
    path.write_bytes(b"\r\n".join(lines))
    report = validate(plain_sample, Checks(max_examples=5))
    hits = [f for f in report.errors if f.column == "sum_click"]
    assert len(hits) == 5 and {h.total for h in hits} == {40}
    assert [h.row for h in hits] == [2, 3, 4, 5, 6]


def test_both_csv_and_csv_gz_of_a_table_is_refused(plain_sample: Path, sample_dir: Path) -> None:
    import shutil

    shutil.copy2(sample_dir / "courses.csv.gz", plain_sample / "courses.csv.gz")  # beside courses.csv
    report = validate(plain_sample)
    assert not report.ok
    [finding] = [f for f in report.errors if f.rule == "ambiguous_file"]
    assert finding.file == "courses.csv" and "courses.csv and courses.csv.gz" in finding.message


def test_a_data_directory_in_a_symlink_loop_is_one_clear_line(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    env = {**os.environ, "LAIP_HOME": str(tmp_path / "home")}
    for command in ("validate", "load"):
        proc = subprocess.run(
            [sys.executable, "-m", "laip", command, str(tmp_path / "a")], env=env, capture_output=True, text=True
        )
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        assert "raw-data directory" in proc.stderr and "ymlink loop" in proc.stderr


def test_lines_after_a_rejected_line_keep_their_numbers(plain_sample: Path) -> None:
    """A row that does not parse is left out of the table; the lines named after it are still the file's."""
    path = plain_sample / "studentVle.csv"
    lines = path.read_bytes().split(b"\r\n")
    lines[150] = b"not,a,row"  # line 151: too few fields
    fields = lines[300].split(b",")
    fields[5] = b'"-4"'  # line 301: negative clicks
    lines[300] = b",".join(fields)
    path.write_bytes(b"\r\n".join(lines))
    report = validate(plain_sample)
    assert {(f.rule, f.row) for f in report.errors} == {("malformed_row", 151), ("range", 301)}, report.summary()
