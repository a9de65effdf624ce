"""What validation checks beyond :mod:`laip.ingest.rules` when the files are an export **as of a date** (a live
export during a term, :mod:`laip.ingest.replay`): ``Checks.as_of`` is set.

* ``final_result`` is empty exactly for the presentations still running on that date (course day <= module
  length, :mod:`laip.ingest.calendar`): a running presentation's result is not known yet (its label would leak the
  future into training), and an ended one's must be there.
* No event is dated after the export's date (clicks, submissions, registrations, unregistrations): such a row means
  the files or the date are wrong.
* A **delta click log**: an export whose ``export.json`` says ``{"clicks_since": "YYYY-MM-DD"}`` holds in
  ``studentVle`` only the clicks dated after that date (the date of the export loaded before it; the other six files
  are complete as always). Such a click is dated after that date's course day in its presentation, and the date lies
  before the export's own. The load appends those clicks to the ones it holds as of that date
  (:mod:`laip.ingest.delta_load`): a VLE's click log is exported by increments; re-reading its whole history every
  week is what makes a weekly load slow.

Each check is a relation of the offending rows (rowid, value, ...) of one raw table, reported by the validator like
every other rule (file, column, line, value).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import NamedTuple

from laip.ingest.calendar import course_day_sql
from laip.ingest.report import Finding
from laip.ingest.rules import Checks

DECLARATION = "export.json"  # in an export's folder: what kind of export it is (a delta click log)


class LiveRule(NamedTuple):
    table: str  # raw table whose rows break the rule
    column: str
    rule: str
    message: str
    bad: str  # SQL relation: rowid, value, ... of the offending rows


def with_declaration(data_dir: Path, checks: Checks) -> tuple[Checks, Finding | None]:
    """``checks`` with the ``clicks_since`` of ``data_dir``'s ``export.json`` (unchanged when there is none), or the
    finding that says why that file is wrong (unreadable, not a date, not before the export's date)."""
    path = Path(data_dir) / DECLARATION
    if not path.is_file():
        return checks, None

    def wrong(message: str, value: str | None = None) -> tuple[Checks, Finding]:
        found = Finding("error", DECLARATION, "export_declaration", message, column="clicks_since", value=value)
        return checks, found

    try:
        declared = json.loads(path.read_text(encoding="utf-8"))
        text = declared.get("clicks_since") if isinstance(declared, dict) else None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return wrong(f"not a readable JSON object: {exc}")
    if text is None:
        return checks, None
    try:
        since = date.fromisoformat(str(text))
    except ValueError:
        return wrong("not a date (YYYY-MM-DD)", str(text))
    if checks.as_of is None:
        return wrong("a delta click log is an export as of a date: give that date (--as-of)", str(text))
    if since >= checks.as_of:
        return wrong(f"must lie before the export's date {checks.as_of}", str(text))
    return replace(checks, clicks_since=since), None


def _days(checks: Checks) -> str:
    """Relation: each presentation of raw.courses with its course day on the export's date, its length, and the
    course day of the delta click log's ``clicks_since`` (NULL without one)."""
    assert checks.as_of is not None
    day = course_day_sql("code_presentation", checks.as_of, checks.presentation_start_day)
    since = checks.clicks_since
    since_day = "null" if since is None else course_day_sql("code_presentation", since, checks.presentation_start_day)
    return (
        f"(select code_module, code_presentation, {day} as as_of_day, module_presentation_length as length, "
        f"{since_day} as since_day from raw.courses)"
    )


def live_rules(checks: Checks, loaded: set[str]) -> list[LiveRule]:
    """The rules of a live export whose tables are all in ``loaded`` (raw table names)."""
    if checks.as_of is None or "courses" not in loaded:
        return []
    as_of = checks.as_of.isoformat()
    days = _days(checks)
    rules: list[LiveRule] = []
    if "student_info" in loaded:
        rules.append(
            LiveRule(
                "student_info",
                "final_result",
                "missing_value",
                f"missing final_result of a presentation that had ended by the export's date {as_of}",
                f"select t.rowid, t.final_result from raw.student_info t join {days} d "
                "using (code_module, code_presentation) where t.final_result is null and d.as_of_day > d.length",
            )
        )
        rules.append(
            LiveRule(
                "student_info",
                "final_result",
                "result_before_end",
                f"final_result given for a presentation not ended by the export's date {as_of} "
                "(results are known only after the end; leave it empty)",
                f"select t.rowid, t.final_result from raw.student_info t join {days} d "
                "using (code_module, code_presentation) "
                "where t.final_result is not null and d.as_of_day <= d.length",
            )
        )
    dated = [
        ("student_vle", "date", f"raw.student_vle t join {days} d using (code_module, code_presentation)"),
        (
            "student_registration",
            "date_registration",
            f"raw.student_registration t join {days} d using (code_module, code_presentation)",
        ),
        (
            "student_registration",
            "date_unregistration",
            f"raw.student_registration t join {days} d using (code_module, code_presentation)",
        ),
    ]
    if "assessments" in loaded:
        dated.append(
            (
                "student_assessment",
                "date_submitted",
                f"raw.student_assessment t join raw.assessments a using (id_assessment) join {days} d "
                "on a.code_module = d.code_module and a.code_presentation = d.code_presentation",
            )
        )
    for table, column, relation in dated:
        if table in loaded:
            rules.append(
                LiveRule(
                    table,
                    column,
                    "after_export_date",
                    f"dated after the export's date {as_of} (course day of that date in its presentation: "
                    "the value must not exceed it)",
                    f'select t.rowid, t."{column}", d.as_of_day from {relation} where t."{column}" > d.as_of_day',
                )
            )
    if checks.clicks_since is not None and {"student_vle", "student_registration"} <= loaded:
        since = checks.clicks_since.isoformat()
        rules.append(
            LiveRule(
                "student_vle",
                "date",
                "before_delta_start",
                f"dated on or before {since}, the date this delta click log starts after ({DECLARATION} "
                "clicks_since), for an attempt the export of that date held (its presentation had started, the "
                "student registered by then): that export had the click; the value must exceed the course day of "
                "that date",
                f"select t.rowid, t.date, d.since_day from {dated[0][2]} where t.date <= d.since_day "
                "and (t.code_module, t.code_presentation, t.id_student) in (select r.code_module, "
                f"r.code_presentation, r.id_student from raw.student_registration r join {days} s "
                "using (code_module, code_presentation) where s.since_day >= 0 "
                "and (r.date_registration is null or r.date_registration <= s.since_day))",
            )
        )
    return rules
