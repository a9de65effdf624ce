"""The calendar of a module-presentation: on which date its course day 0 falls, and which course day a date is.

OULAD gives a presentation's start only as its code: the year and ``B`` (starts in February) or ``J`` (starts in
October); ``courses.module_presentation_length`` gives its length in days. The platform dates a presentation's day 0
on a **nominal day of that month** (``laip.yaml`` ``domain.presentation_start_day``, default the 1st): an assumption,
used where a calendar date must become a course day (the export as of a date, :mod:`laip.ingest.replay`; a live
export's validation). Leakage rules never rely on it: the warehouse decides whether an earlier presentation had
certainly ended with the whole start month as its window (dbt ``int_presentations_calendar_estimated``), which holds
for any nominal day.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

#: Start month of each presentation letter (OULAD documentation).
START_MONTHS = {"B": 2, "J": 10}
_CODE = re.compile(r"([0-9]{4})([BJ])")


def presentation_start(code_presentation: str, start_day: int = 1) -> date:
    """Day 0 of presentation ``code_presentation`` (e.g. ``2013J`` -> 2013-10-01 with ``start_day`` 1)."""
    match = _CODE.fullmatch(code_presentation)
    if match is None:
        raise ValueError(f"not a presentation code (YYYYB or YYYYJ): {code_presentation!r}")
    return date(int(match[1]), START_MONTHS[match[2]], start_day)


def course_day(code_presentation: str, on: date, start_day: int = 1) -> int:
    """The course day that date ``on`` is in presentation ``code_presentation`` (negative before its start)."""
    return (on - presentation_start(code_presentation, start_day)).days


def date_of_course_day(code_presentation: str, day: int, start_day: int = 1) -> date:
    """The date of course day ``day`` of presentation ``code_presentation``."""
    return presentation_start(code_presentation, start_day) + timedelta(days=day)


def start_date_sql(code_presentation: str, start_day: int) -> str:
    """DuckDB expression: day 0 of the presentation in column ``code_presentation`` (as :func:`presentation_start`)."""
    c = code_presentation
    month = f"case right({c}, 1) when 'B' then {START_MONTHS['B']} else {START_MONTHS['J']} end"
    return f"make_date(cast(left({c}, 4) as integer), {month}, {int(start_day)})"


def course_day_sql(code_presentation: str, as_of: date, start_day: int) -> str:
    """DuckDB expression: the course day that ``as_of`` is in the presentation of column ``code_presentation``."""
    return f"(date '{as_of.isoformat()}' - {start_date_sql(code_presentation, start_day)})"
