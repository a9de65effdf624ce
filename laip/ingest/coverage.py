"""Click-log coverage of each module-presentation, measured during validation and reported as warnings, never
errors: a presentation without click log is a fact about the data (its click measures are unknown, not zero)."""

from __future__ import annotations

from typing import Any

import duckdb

from laip.ingest.calendar import course_day_sql
from laip.ingest.report import Finding
from laip.ingest.rules import Checks


def measure_click_coverage(
    con: duckdb.DuckDBPyConnection, file_name: str, checks: Checks
) -> tuple[list[dict[str, Any]], list[Finding]]:
    """(one coverage row per presentation of ``raw.courses``, warnings) from the typed ``raw.student_vle``; a log
    ending within ``checks.click_complete_tolerance_days`` of the module's end is complete. In an export as of a date
    (``checks.as_of``) a running presentation's log can reach only that date's course day: that day is its end here
    (a log ending within the tolerance of it is complete so far), and presentations not started yet are left out of
    the warnings."""
    tolerance_days = checks.click_complete_tolerance_days
    as_of_day = (
        "null"
        if checks.as_of is None
        else course_day_sql("c.code_presentation", checks.as_of, checks.presentation_start_day)
    )
    rows = con.execute(
        f"""select c.code_module, c.code_presentation, c.module_presentation_length,
                   coalesce(v.click_rows, 0), v.first_day, v.last_day, {as_of_day} as as_of_day
            from raw.courses c left join (
                select code_module, code_presentation, count(sum_click) as click_rows, min(date) as first_day,
                       max(date) as last_day
                from raw.student_vle group by all) v using (code_module, code_presentation)
            order by 1, 2"""
    ).fetchall()
    coverage: list[dict[str, Any]] = []
    for module, pres, length, n, first, last, as_of in rows:
        end = length if as_of is None or length is None else min(length, as_of)  # the last day a log can reach
        if n == 0:
            status = "missing"
        elif last is not None and end is not None and last >= end - tolerance_days:
            status = "complete"
        else:
            status = "partial"
        coverage.append(
            {
                "code_module": module,
                "code_presentation": pres,
                "module_length": length,
                "click_rows": n,
                "first_click_day": first,
                "last_click_day": last,
                "status": status,
                "observable_through_day": end,
            }
        )
    started = [r for r in coverage if r["observable_through_day"] is None or r["observable_through_day"] >= 0]
    missing = [f"{r['code_module']} {r['code_presentation']}" for r in started if r["status"] == "missing"]
    partial = [
        f"{r['code_module']} {r['code_presentation']} (to day {r['last_click_day']} of {r['observable_through_day']})"
        for r in coverage
        if r["status"] == "partial"
    ]
    warnings: list[Finding] = []
    if missing:
        warnings.append(
            Finding(
                "warning",
                file_name,
                "click_coverage",
                f"no click log for {len(missing)} of {len(started)} presentations: {', '.join(missing)}; "
                "their click measures are unknown (NULL), not zero",
                total=len(missing),
            )
        )
    if partial:
        warnings.append(
            Finding(
                "warning",
                file_name,
                "click_coverage",
                f"click log ends early for: {', '.join(partial)}; later days are unknown",
                total=len(partial),
            )
        )
    return coverage, warnings
