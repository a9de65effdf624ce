"""What validation checks beyond the file format: the limits (from ``laip.yaml``) and the value rules of each column
as SQL conditions on the typed table (a value of the wrong type never reaches it: see :mod:`laip.ingest.csv_read`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from laip.ingest.schema import Column


@dataclass(frozen=True)
class Checks:
    """Limits of one validation run (``laip.yaml``: ``validation``, ``domain``)."""

    max_examples: int = 5  # rows listed per failing rule (totals are always counted)
    click_complete_tolerance_days: int = 7  # a click log ending this close to the module's end is complete
    # Event days (clicks, assessment due days, registration days) must lie in
    # [-days_before_start, module_presentation_length + days_after_end] of their presentation.
    days_before_start: int = 400
    days_after_end: int = 14
    # A live export: the files as known on this date (laip.ingest.live_export); None = a finished history.
    as_of: date | None = None
    presentation_start_day: int = 1  # nominal day of the start month of a presentation (laip.ingest.calendar)
    # A delta click log: the export's studentVle holds only the clicks dated after this date (its export.json,
    # laip.ingest.live_export); None = every click known on ``as_of``.
    clicks_since: date | None = None


#: (table, day column) bounded by the presentation's length; the table has code_module, code_presentation.
#: Submission and unregistration days are not: the real OULAD has submissions up to 354 and unregistrations up to
#: 176 days after the module's end (late submissions, administrative records).
EVENT_DAYS = (
    ("student_vle", "date"),
    ("assessments", "date"),
    ("student_registration", "date_registration"),
)


class Rule(NamedTuple):
    name: str  # the finding's rule
    condition: str  # SQL selecting the bad rows of the typed table
    message: str
    per_value: bool  # costly per row (a regular expression, a list): tested on the distinct values first


def value_rules(col: Column, live: bool = False) -> list[Rule]:
    """The rules one column of a typed table must satisfy (``live``: of an export as of a date, where a column
    ``known_at_end`` may be empty: :mod:`laip.ingest.live_export` checks it instead)."""
    c = f'"{col.name}"'
    rules: list[Rule] = []
    if not col.nullable and not (live and col.known_at_end):
        rules.append(Rule("missing_value", f"{c} is null", "missing value in a required column", False))
    if col.min is not None:
        op = "<=" if col.min_exclusive else "<"
        bound = f"> {col.min:g}" if col.min_exclusive else f">= {col.min:g}"
        rules.append(Rule("range", f"{c} {op} {col.min}", f"value must be {bound}", False))
    if col.max is not None:
        rules.append(Rule("range", f"{c} > {col.max}", f"value must be <= {col.max:g}", False))
    if col.allowed is not None:
        allowed = ", ".join(f"'{v}'" for v in col.allowed)
        rules.append(Rule("domain", f"cast({c} as varchar) not in ({allowed})", f"value not in ({allowed})", True))
    if col.pattern is not None:
        condition = f"not regexp_full_match({c}, '{col.pattern}')"
        rules.append(Rule("format", condition, f"value does not match {col.pattern}", True))
    return rules


def event_day_rule(table: str, column: str, checks: Checks) -> tuple[str, str, str]:
    """(query counting the presentations with a ``column`` day outside their days, from the per-presentation
    minimum and maximum: cheap; relation of the offending rows: rowid, day, module length; message)."""
    before, after = checks.days_before_start, checks.days_after_end
    outside = f"{{day}} < -{before} or {{day}} > c.module_presentation_length + {after}"
    probe = (
        f'select count(*) from (select code_module, code_presentation, min("{column}") as lo, max("{column}") as hi '
        f"from raw.{table} group by all) t join raw.courses c using (code_module, code_presentation) "
        f"where {outside.format(day='t.lo')} or {outside.format(day='t.hi')}"
    )
    row_day = f't."{column}"'
    bad = (
        f"select t.rowid, {row_day}, c.module_presentation_length from raw.{table} t "
        f"join raw.courses c using (code_module, code_presentation) where {outside.format(day=row_day)}"
    )
    message = (
        f"day outside its presentation: must lie in [-{before}, module length + {after}] "
        "(laip.yaml domain.event_days_before_start / event_days_after_end)"
    )
    return probe, bad, message
