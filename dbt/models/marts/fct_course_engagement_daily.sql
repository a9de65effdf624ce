-- One row per module-presentation per course day, ONLY for days covered by the click log
-- (from the first click day to click_data_through_day). Presentations without a click log have
-- no rows: their engagement is unknown, not zero.

with coverage as (

    select * from {{ ref('int_click_coverage_measured') }}
    where has_click_log

),

attempts as (

    select module_presentation_id, student_module_id, registration_day, unregistration_day
    from {{ ref('int_student_attempts_joined') }}

),

daily_activity as (

    select * from {{ ref('int_student_activity_aggregated_daily') }}

),

course_days as (

    select
        module_presentation_id,
        code_module,
        code_presentation,
        unnest(generate_series(first_click_day, click_data_through_day)) as course_day
    from coverage

),

-- Enrolled on day d: registered on or before d (unknown registration day counts as registered)
-- and not unregistered on or before d.
enrolled as (

    select
        course_days.module_presentation_id,
        course_days.course_day,
        count(attempts.student_module_id) as enrolled_students
    from course_days
    left join attempts
        on attempts.module_presentation_id = course_days.module_presentation_id
       and {{ is_enrolled_on_day('course_days.course_day', 'attempts.registration_day', 'attempts.unregistration_day') }}
    group by all

),

activity as (

    select
        module_presentation_id,
        click_day                               as course_day,
        count(*)                                as active_students,
        cast(sum(total_clicks) as bigint)       as total_clicks
    from daily_activity
    group by all

)

select
    course_days.module_presentation_id,
    course_days.code_module,
    course_days.code_presentation,
    course_days.course_day,
    {{ course_week('course_days.course_day') }}                         as course_week,
    enrolled.enrolled_students,
    -- A covered day without any click is a genuine 0.
    coalesce(activity.active_students, 0)                               as active_students,
    coalesce(activity.total_clicks, 0)                                  as total_clicks,
    round(activity.total_clicks / nullif(activity.active_students, 0), 2) as clicks_per_active_student,
    round(coalesce(activity.total_clicks, 0) / nullif(enrolled.enrolled_students, 0), 2) as clicks_per_enrolled_student,
    round(coalesce(activity.active_students, 0) / nullif(enrolled.enrolled_students, 0), 4) as active_share,
    -- BI shows per-student rates only for at least var(min_group_size) active students.
    coalesce(activity.active_students, 0) >= {{ var('min_group_size') }}                       as is_reportable
from course_days
left join enrolled
    on course_days.module_presentation_id = enrolled.module_presentation_id
   and course_days.course_day = enrolled.course_day
left join activity
    on course_days.module_presentation_id = activity.module_presentation_id
   and course_days.course_day = activity.course_day
