"""The click-log coverage rule (complete / partial / missing) is written twice: in SQL, as the dbt macro
``click_coverage_status`` (dbt/macros/click_coverage.sql) that ``int_click_coverage_measured`` applies, and in
Python, in the raw-data validation (its click-coverage report and warnings). On the committed sample both must
classify every presentation alike: in the warehouse built with the configured tolerance, and at tolerances on
either side of each presentation's distance between its last click day and its end, where a ``>=`` / ``>`` slip
would show.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import duckdb

from laip.config import Settings
from laip.ingest.rules import Checks
from laip.ingest.validate import validate
from laip.warehouse.build import dbt_args_tail, dbt_env, dbt_executable

COVERAGE = "intermediate.int_click_coverage_measured"


def _python_rule(data_dir: Path, tolerance: int) -> dict[str, dict]:
    report = validate(data_dir, Checks(click_complete_tolerance_days=tolerance))
    return {f"{r['code_module']}_{r['code_presentation']}": r for r in report.click_coverage}


def _sql_rule(settings: Settings, tolerances: list[int], target: Path) -> dict[int, dict[str, str]]:
    """The dbt macro rendered by dbt itself for each tolerance, run on the presentations' measured click days."""
    inline = (
        "{% for t in " + json.dumps(tolerances) + " %}"
        "select {{ t }} as tolerance, module_presentation_id, {{ click_coverage_status(tolerance=t) }} as status "
        "from {{ ref('int_click_coverage_measured') }}{% if not loop.last %} union all {% endif %}{% endfor %}"
    )
    cmd = [
        dbt_executable(),
        "compile",
        "--quiet",
        "--no-use-colors",
        "--inline",
        inline,
        *dbt_args_tail(settings, target_path=target),
    ]
    proc = subprocess.run(cmd, env={**os.environ, **dbt_env(settings)}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        rows = con.execute(proc.stdout).fetchall()
    out: dict[int, dict[str, str]] = {t: {} for t in tolerances}
    for tolerance, key, status in rows:
        out[tolerance][key] = status
    return out


def test_warehouse_coverage_equals_the_validation_report(built_sample: Settings, sample_dir: Path) -> None:
    tolerance = built_sample.click_log_complete_tolerance_days
    assert built_sample.dbt_vars()["click_log_complete_tolerance_days"] == tolerance  # dbt built with the same value
    with duckdb.connect(str(built_sample.warehouse), read_only=True) as con:
        sql = {
            key: (status, records, first, last)
            for key, status, records, first, last in con.execute(
                f"select module_presentation_id, coverage_status, click_log_records, first_click_day, last_click_day "
                f"from {COVERAGE}"
            ).fetchall()
        }
    python = {
        key: (r["status"], r["click_rows"], r["first_click_day"], r["last_click_day"])
        for key, r in _python_rule(sample_dir, tolerance).items()
    }
    assert sql == python
    assert {status for status, *_ in sql.values()} == {"complete", "partial", "missing"}  # all three are exercised


def test_sql_and_python_rules_agree_at_every_boundary(built_sample: Settings, sample_dir: Path, tmp_path: Path) -> None:
    report = _python_rule(sample_dir, built_sample.click_log_complete_tolerance_days)
    gaps = {r["module_length"] - r["last_click_day"] for r in report.values() if r["last_click_day"] is not None}
    tolerances = sorted(
        {0, built_sample.click_log_complete_tolerance_days}
        | {t for gap in gaps for t in (gap - 1, gap, gap + 1) if t >= 0}
    )
    sql = _sql_rule(built_sample, tolerances, tmp_path / "dbt-target")
    python = {t: {key: r["status"] for key, r in _python_rule(sample_dir, t).items()} for t in tolerances}
    assert sql == python
    # the tolerances do cross a boundary: some presentation is partial at one and complete at another
    assert any(len({sql[t][key] for t in tolerances}) > 1 for key in report)
