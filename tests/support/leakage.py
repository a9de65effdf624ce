"""The leakage proof's rewrite of the future, shared by the DuckDB and the Spark warehouse tests.

For checkpoint P: every click after day P is deleted, every submission after day P is moved later and re-scored, every
unregistration after day P is moved later, every assessment due after day P is moved later, and every final result is
swapped. The checkpoint-P rows of the feature mart must stay identical except for the target, and except for the
prior_* columns of attempts whose day P came after an earlier presentation had ended (its final results were known by
then: a swapped past is a different past).
"""

from __future__ import annotations

from laip.ml.features import presentation_ended_before

TARGET = "withdrew_after_prediction_day"


def rewritten_raw_tables(day: int) -> dict[str, str]:
    """Raw table -> the SELECT (portable SQL, the table's own column order) that rewrites its events after ``day``."""
    return {
        "student_vle": f"select * from raw.student_vle where date <= {day}",
        "student_assessment": f"""select id_assessment, id_student,
            case when date_submitted > {day} then date_submitted + 9 else date_submitted end as date_submitted,
            is_banked,
            case when date_submitted > {day} then 100 - coalesce(score, 50) else score end as score
            from raw.student_assessment""",
        "student_registration": f"""select code_module, code_presentation, id_student, date_registration,
            case when date_unregistration > {day} then date_unregistration + 11 else date_unregistration end
                as date_unregistration
            from raw.student_registration""",
        "assessments": f"""select code_module, code_presentation, id_assessment, assessment_type,
            case when date > {day} then date + 5 else date end as date, weight
            from raw.assessments""",
        "student_info": """select code_module, code_presentation, id_student, gender, region, highest_education,
            imd_band, age_band, num_of_prev_attempts, studied_credits, disability,
            case final_result when 'Pass' then 'Fail' when 'Fail' then 'Distinction' when 'Distinction' then 'Pass'
                else final_result end as final_result
            from raw.student_info""",
    }


def changed_features(cols: list[str], original: list[tuple], rewritten: list[tuple], day: int) -> list[tuple]:
    """The feature values of checkpoint ``day`` that the rewrite changed (rows in the same order), but for the
    prior_* columns of attempts with an ended earlier presentation. Asserts the comparison is meaningful."""
    assert len(cols) > 20 and TARGET not in cols
    assert len(original) == len(rewritten) > 0
    pres_col = cols.index("code_presentation")
    presentations = {r[pres_col] for r in original}
    has_past = {p for p in presentations if any(presentation_ended_before(q, p, day) for q in presentations)}
    assert any(c.startswith("prior_") for c in cols) and "2014J" in has_past and "2013B" not in has_past
    return [
        (a[:3], c, x, y)
        for a, b in zip(original, rewritten, strict=True)
        for c, x, y in zip(cols, a, b, strict=True)
        if x != y and not (c.startswith("prior_") and a[pres_col] in has_past)
    ]
