"""What validation checks beyond :mod:`laip.ingest.rules` when the files are an export **as of a date** (a live
export during a term, :mod:`laip.ingest.replay`): ``Checks.as_of`` is set.

* ``final_result`` is empty exactly for the presentations still running on that date (course day <= module
  length, :mod:`laip.ingest.calendar`): a running presentation's result is not known yet (its label would leak the
  future into training), and an ended one's must be there.
* No event is dated after the export's date (clicks, submissions, registrations, unregistrations): such a row means
  the files or the date are wrong.

Each check is a relation of the offending rows (rowid, value, ...) of one raw table, reported by the validator like
every other rule (file, column, line, value).
"""

from __future__ import annotations

from typing import NamedTuple

from laip.ingest.calendar import course_day_sql
from laip.ingest.rules import Checks


class LiveRule(NamedTuple):
    table: str  # raw table whose rows break the rule
    column: str
    rule: str
    message: str
    bad: str  # SQL relation: rowid, value, ... of the offending rows


def _days(checks: Checks) -> str:
    """Relation: each presentation of raw.courses with its course day on the export's date and its length."""
    assert checks.as_of is not None
    day = course_day_sql("code_presentation", checks.as_of, checks.presentation_start_day)
    return (
        f"(select code_module, code_presentation, {day} as as_of_day, module_presentation_length as length "
        "from raw.courses)"
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
    return rules
