-- prior_* features may use only presentations that had certainly ended before the attempt's
-- prediction day P. Recompute the counts with an independent rule on the presentation codes
-- (valid for OULAD's lengths: B at most 241 days, J at most 269 days):
--   an earlier B presentation of year x counts for any presentation of a year > x, and for the
--   J presentation of year x when P >= 30 (the B one ends by 28 October; the J one's day P is on
--   or after 1 October + P);
--   an earlier J presentation of year x counts for J presentations of a year > x and for B
--   presentations of a year > x + 1 (it runs until June/July of year x + 1).
-- and compare with the mart.
{% set p = var('prediction_day') %}
with attempts as (

    select
        student_module_id,
        id_student,
        code_module,
        cast(left(code_presentation, 4) as integer) as yr,
        right(code_presentation, 1) as sem
    from {{ ref('int_student_attempts_joined') }}

),

expected as (

    select
        a.student_module_id,
        count(e.student_module_id) as prior_attempts_ended
    from attempts as a
    left join attempts as e
        on
            a.id_student = e.id_student
            and (
                (e.sem = 'B' and a.yr > e.yr)
                or (e.sem = 'B' and a.sem = 'J' and a.yr = e.yr and {{ p }} >= 30)
                or (e.sem = 'J' and a.sem = 'J' and a.yr > e.yr)
                or (e.sem = 'J' and a.sem = 'B' and e.yr < a.yr - 1)
            )
    group by a.student_module_id

),

module_expected as (

    select
        c.module_presentation_id,
        count(e.module_presentation_id) as prior_module_presentations_ended
    from {{ ref('stg_oulad__courses') }} as c
    left join {{ ref('stg_oulad__courses') }} as e
        on
            c.code_module = e.code_module
            and (
                (e.presentation_semester = 'B' and c.presentation_year > e.presentation_year)
                or (
                    e.presentation_semester = 'B' and c.presentation_semester = 'J'
                    and c.presentation_year = e.presentation_year and {{ p }} >= 30
                )
                or (
                    e.presentation_semester = 'J'
                    and c.presentation_semester = 'J'
                    and c.presentation_year > e.presentation_year
                )
                or (
                    e.presentation_semester = 'J'
                    and c.presentation_semester = 'B'
                    and e.presentation_year < c.presentation_year - 1
                )
            )
    group by c.module_presentation_id

)

select
    f.student_module_id,
    f.prior_attempts_ended,
    expected.prior_attempts_ended as expected_prior_attempts_ended,
    f.prior_module_presentations_ended,
    module_expected.prior_module_presentations_ended as expected_module_presentations
from {{ ref('mart_withdrawal_prediction_features') }} as f
inner join expected on f.student_module_id = expected.student_module_id
inner join module_expected on f.module_presentation_id = module_expected.module_presentation_id
where
    f.prior_attempts_ended != expected.prior_attempts_ended
    or f.prior_module_presentations_ended != module_expected.prior_module_presentations_ended
