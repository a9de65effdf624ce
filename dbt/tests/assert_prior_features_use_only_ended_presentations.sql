-- prior_* features may use only presentations that had certainly ended before the attempt's
-- checkpoint day P (every checkpoint of the mart). Recompute the counts with an independent rule on the
-- presentation codes, valid for OULAD's lengths (B 234..241 days: ends 20..27 October; J 261..269 days: ends
-- 19..27 July of the next year):
--   an earlier B presentation of year x counts for any presentation of a year > x, and for the
--   J presentation of year x when P >= 27 (the J one's day P is on or after 1 October + P);
--   an earlier J presentation of year x counts for J presentations of a year > x, for B presentations of a
--   year > x + 1, and for the B presentation of year x + 1 when P >= 177 (day P on or after 1 February + P).
-- Checkpoints 20..26 and 168..176 are not checked: there the presentations' exact lengths decide.
-- Compare with the mart.
with checkpoints as (

    select * from ({{ checkpoint_days() }}) as configured
    where prediction_day not between 20 and 26 and prediction_day not between 168 and 176

),

attempts as (

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
        checkpoints.prediction_day,
        count(e.student_module_id) as prior_attempts_ended
    from attempts as a
    cross join checkpoints
    left join attempts as e
        on
            a.id_student = e.id_student
            and (
                (e.sem = 'B' and a.yr > e.yr)
                or (e.sem = 'B' and a.sem = 'J' and a.yr = e.yr and checkpoints.prediction_day >= 27)
                or (e.sem = 'J' and a.sem = 'J' and a.yr > e.yr)
                or (e.sem = 'J' and a.sem = 'B' and e.yr < a.yr - 1)
                or (e.sem = 'J' and a.sem = 'B' and e.yr = a.yr - 1 and checkpoints.prediction_day >= 177)
            )
    group by a.student_module_id, checkpoints.prediction_day

),

module_expected as (

    select
        c.module_presentation_id,
        checkpoints.prediction_day,
        count(e.module_presentation_id) as prior_module_presentations_ended
    from {{ ref('stg_oulad__courses') }} as c
    cross join checkpoints
    left join {{ ref('stg_oulad__courses') }} as e
        on
            c.code_module = e.code_module
            and (
                (e.presentation_semester = 'B' and c.presentation_year > e.presentation_year)
                or (
                    e.presentation_semester = 'B' and c.presentation_semester = 'J'
                    and c.presentation_year = e.presentation_year and checkpoints.prediction_day >= 27
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
                or (
                    e.presentation_semester = 'J'
                    and c.presentation_semester = 'B'
                    and e.presentation_year = c.presentation_year - 1
                    and checkpoints.prediction_day >= 177
                )
            )
    group by c.module_presentation_id, checkpoints.prediction_day

)

select
    f.student_module_id,
    f.prediction_day,
    f.prior_attempts_ended,
    expected.prior_attempts_ended as expected_prior_attempts_ended,
    f.prior_module_presentations_ended,
    module_expected.prior_module_presentations_ended as expected_module_presentations
from {{ ref('mart_withdrawal_prediction_features') }} as f
inner join expected
    on
        f.student_module_id = expected.student_module_id
        and f.prediction_day = expected.prediction_day
inner join module_expected
    on
        f.module_presentation_id = module_expected.module_presentation_id
        and f.prediction_day = module_expected.prediction_day
where
    f.prior_attempts_ended != expected.prior_attempts_ended
    or f.prior_module_presentations_ended != module_expected.prior_module_presentations_ended
