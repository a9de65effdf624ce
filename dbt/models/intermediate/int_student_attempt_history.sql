{{ config(materialized='table') }}
-- One row per student-module attempt and checkpoint P: the student's OTHER attempts (any module) in
-- presentations that had certainly ended before this attempt's day P (see
-- int_presentations_calendar_estimated), with their final results, known by day P.
-- Attempts in the same, overlapping or later presentations never count.

with attempts as (

    select * from {{ ref('int_student_attempts_joined') }}

),

calendar as (

    select * from {{ ref('int_presentations_calendar_estimated') }}

),

dated_attempts as (

    select
        attempts.student_module_id,
        attempts.id_student,
        attempts.code_module,
        attempts.final_result,
        calendar.prediction_day,
        calendar.latest_end_date,
        calendar.earliest_day_p_date
    from attempts
    inner join calendar on attempts.module_presentation_id = calendar.module_presentation_id

)

select
    current_attempt.student_module_id,
    current_attempt.prediction_day,
    count(earlier.student_module_id) as prior_attempts_ended,
    count(earlier.student_module_id) filter (where earlier.code_module = current_attempt.code_module)
        as prior_same_module_attempts_ended,
    count(earlier.student_module_id) filter (where earlier.final_result = 'Withdrawn') as prior_withdrawn_count,
    count(earlier.student_module_id) filter (where earlier.final_result = 'Fail') as prior_failed_count,
    count(earlier.student_module_id) filter (where earlier.final_result in ('Pass', 'Distinction'))
        as prior_passed_count
from dated_attempts as current_attempt
left join dated_attempts as earlier
    on
        current_attempt.id_student = earlier.id_student
        and current_attempt.prediction_day = earlier.prediction_day
        and current_attempt.earliest_day_p_date > earlier.latest_end_date
group by current_attempt.student_module_id, current_attempt.prediction_day
