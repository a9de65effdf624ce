{{ config(materialized='table') }}
-- One row per module-presentation with a click log per course day, from the first day of the course
-- week of its first click through click_data_through_day, with the attempts enrolled on that day.
-- Shared by the daily and the weekly engagement facts: the daily fact keeps the days covered by the
-- log (is_covered_by_click_log), the weekly fact counts the enrolment on each week's first day, which
-- can lie before the first click. Presentations without a click log have no rows.

with coverage as (

    select * from {{ ref('int_click_coverage_measured') }}
    where has_click_log

),

attempts as (

    select
        module_presentation_id,
        student_module_id,
        registration_day,
        unregistration_day
    from {{ ref('int_student_attempts_joined') }}

),

course_days as (

    select
        module_presentation_id,
        code_module,
        code_presentation,
        first_click_day,
        click_data_through_day,
        {{ integer_series(
            '(' ~ course_week('first_click_day') ~ ' - 1) * 7', 'click_data_through_day'
        ) }} as course_day
    from coverage

)

-- Enrolled on day d: registered on or before d (unknown registration day counts as registered) and
-- not unregistered on or before d.
select
    course_days.module_presentation_id,
    course_days.code_module,
    course_days.code_presentation,
    course_days.course_day,
    {{ course_week('course_days.course_day') }} as course_week,
    course_days.first_click_day,
    course_days.click_data_through_day,
    course_days.course_day >= course_days.first_click_day as is_covered_by_click_log,
    count(attempts.student_module_id) as enrolled_students
from course_days
left join attempts
    on
        course_days.module_presentation_id = attempts.module_presentation_id
        and {{ is_enrolled_on_day(
            'course_days.course_day', 'attempts.registration_day', 'attempts.unregistration_day'
        ) }}
group by all
