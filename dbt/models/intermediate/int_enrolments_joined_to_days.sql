{{ config(materialized='table') }}
-- One row per module-presentation with a click log per course day, from the first day of the course
-- week of its first click through click_data_through_day, with the attempts enrolled on that day.
-- Shared by the daily and the weekly engagement facts: the daily fact keeps the days covered by the
-- log (is_covered_by_click_log), the weekly fact counts the enrolment on each week's first day, which
-- can lie before the first click. Presentations without a click log have no rows.

with coverage as (

    select
        *,
        ({{ course_week('first_click_day') }} - 1) * 7 as first_series_day
    from {{ ref('int_click_coverage_measured') }}
    where has_click_log

),

-- the attempts of the presentations with a click log, with the first day of their series
attempts as (

    select
        attempts.module_presentation_id,
        attempts.registration_day,
        attempts.unregistration_day,
        coverage.first_series_day
    from {{ ref('int_student_attempts_joined') }} as attempts
    inner join coverage on attempts.module_presentation_id = coverage.module_presentation_id
    -- unregistered on or before its registration day: never enrolled, changes nothing
    where not coalesce(attempts.unregistration_day <= attempts.registration_day, false)

),

course_days as (

    select
        module_presentation_id,
        code_module,
        code_presentation,
        first_click_day,
        click_data_through_day,
        {{ integer_series('first_series_day', 'click_data_through_day') }} as course_day
    from coverage

),

-- Enrolled on day d: registered on or before d (unknown registration day counts as registered) and
-- not unregistered on or before d. Counted as a running sum of changes rather than by joining every
-- day to every attempt: +1 on the registration day, -1 on the unregistration day. A change before
-- the first day of the series counts on that day.
enrolment_changes as (

    select
        module_presentation_id,
        greatest(coalesce(registration_day, first_series_day), first_series_day) as course_day,
        1 as enrolment_change
    from attempts

    union all

    select
        module_presentation_id,
        greatest(unregistration_day, first_series_day) as course_day,
        -1 as enrolment_change
    from attempts
    where unregistration_day is not null

),

changes_per_day as (

    select
        module_presentation_id,
        course_day,
        sum(enrolment_change) as enrolment_change
    from enrolment_changes
    group by module_presentation_id, course_day

)

select
    course_days.module_presentation_id,
    course_days.code_module,
    course_days.code_presentation,
    course_days.course_day,
    {{ course_week('course_days.course_day') }} as course_week,
    course_days.first_click_day,
    course_days.click_data_through_day,
    course_days.course_day >= course_days.first_click_day as is_covered_by_click_log,
    cast(coalesce(sum(changes_per_day.enrolment_change) over (
        partition by course_days.module_presentation_id
        order by course_days.course_day
        rows between unbounded preceding and current row
    ), 0) as bigint) as enrolled_students
from course_days
left join changes_per_day
    on
        course_days.module_presentation_id = changes_per_day.module_presentation_id
        and course_days.course_day = changes_per_day.course_day
