-- One row per module-presentation per course week (week 1 = days 0..6; weeks <= 0 are before the
-- start) for weeks overlapping the days covered by the click log. days_covered tells how many of
-- the week's 7 days are covered (the first and last week of a log can be partial). Presentations
-- without a click log have no rows: their engagement is unknown, not zero.

with coverage as (

    select * from {{ ref('int_click_coverage_measured') }}
    where has_click_log

),

attempts as (

    select module_presentation_id, student_module_id, registration_day, unregistration_day
    from {{ ref('int_student_attempts_joined') }}

),

weekly_activity as (

    select * from {{ ref('int_student_activity_aggregated_weekly') }}

),

weeks as (

    select
        module_presentation_id,
        code_module,
        code_presentation,
        first_click_day,
        click_data_through_day,
        unnest(generate_series(
            {{ course_week('first_click_day') }},
            {{ course_week('click_data_through_day') }}
        )) as course_week
    from coverage

),

weeks_with_days as (

    select
        *,
        (course_week - 1) * 7                                   as week_start_day,
        (course_week - 1) * 7 + 6                               as week_end_day,
        least((course_week - 1) * 7 + 6, click_data_through_day)
            - greatest((course_week - 1) * 7, first_click_day) + 1 as days_covered
    from weeks

),

-- Enrolled at the start of the week: registered on or before its first day (unknown registration
-- day counts as registered) and not unregistered on or before that day.
enrolled as (

    select
        weeks_with_days.module_presentation_id,
        weeks_with_days.course_week,
        count(attempts.student_module_id) as enrolled_students
    from weeks_with_days
    left join attempts
        on attempts.module_presentation_id = weeks_with_days.module_presentation_id
       and {{ is_enrolled_on_day('weeks_with_days.week_start_day', 'attempts.registration_day', 'attempts.unregistration_day') }}
    group by all

),

activity as (

    select
        module_presentation_id,
        course_week,
        count(*)                                        as active_students,
        cast(sum(active_days) as bigint)                as student_active_days,
        cast(sum(total_clicks) as bigint)               as total_clicks,
        {%- for t in main_activity_types() %}
        cast(sum(clicks_{{ t }}) as bigint)             as clicks_{{ t }},
        {%- endfor %}
        cast(sum(clicks_other) as bigint)               as clicks_other
    from weekly_activity
    group by all

)

select
    w.module_presentation_id,
    w.code_module,
    w.code_presentation,
    w.course_week,
    w.week_start_day,
    w.week_end_day,
    w.days_covered,
    enrolled.enrolled_students,
    coalesce(activity.active_students, 0)                                   as active_students,
    coalesce(activity.total_clicks, 0)                                      as total_clicks,
    round(activity.total_clicks / nullif(activity.active_students, 0), 2)   as clicks_per_active_student,
    round(coalesce(activity.total_clicks, 0) / nullif(enrolled.enrolled_students, 0), 2) as clicks_per_enrolled_student,
    round(coalesce(activity.active_students, 0) / nullif(enrolled.enrolled_students, 0), 4) as active_share,
    round(activity.student_active_days / nullif(activity.active_students, 0), 2) as active_days_per_active_student,
    {%- for t in main_activity_types() %}
    coalesce(activity.clicks_{{ t }}, 0)                                    as clicks_{{ t }},
    {%- endfor %}
    coalesce(activity.clicks_other, 0)                                      as clicks_other,
    -- BI shows per-student rates only for at least var(min_group_size) active students.
    coalesce(activity.active_students, 0) >= {{ var('min_group_size') }}                           as is_reportable
from weeks_with_days as w
left join enrolled
    on w.module_presentation_id = enrolled.module_presentation_id
   and w.course_week = enrolled.course_week
left join activity
    on w.module_presentation_id = activity.module_presentation_id
   and w.course_week = activity.course_week
