"""The presentation calendar: course days as dates (nominal start day of the start month), in Python and SQL."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from laip.ingest.calendar import course_day, course_day_sql, date_of_course_day, presentation_start


def test_b_starts_in_february_and_j_in_october() -> None:
    assert presentation_start("2013B") == date(2013, 2, 1)
    assert presentation_start("2014J", start_day=5) == date(2014, 10, 5)
    assert course_day("2013B", date(2013, 3, 3)) == 30  # February 2013 has 28 days
    assert date_of_course_day("2014J", 30) == date(2014, 10, 31)
    assert course_day("2014J", date(2014, 9, 1)) == -30


def test_a_bad_code_is_named() -> None:
    with pytest.raises(ValueError, match="2013X"):
        presentation_start("2013X")


@pytest.mark.parametrize("code", ["2013B", "2013J", "2014B", "2014J"])
@pytest.mark.parametrize("on", [date(2013, 1, 15), date(2014, 3, 2), date(2015, 6, 30)])
def test_sql_agrees_with_python(code: str, on: date) -> None:
    got = duckdb.sql(f"select {course_day_sql(repr(code), on, 3)}").fetchall()
    assert got == [(course_day(code, on, start_day=3),)]
