-- One row per module-presentation per course week (week 1 = days 0..6; weeks <= 0 are before the
-- start) for weeks overlapping the days covered by the click log. days_covered tells how many of
-- the week's 7 days are covered (the first and last week of a log can be partial). Presentations
-- without a click log have no rows: their engagement is unknown, not zero.

with enrolment_days as (

    select * from {{ ref('int_enrolments_joined_to_days') }}

),

weekly_activity as (

    select * from {{ ref('int_student_activity_aggregated_weekly') }}

),

-- Every week of the log starts inside int_enrolments_joined_to_days's range of days, so the
-- enrolment of its first day (registered on or before it, not unregistered on or before it) is known.
weeks as (

    select
        module_presentation_id,
        code_module,
        code_presentation,
        cast(course_week as bigint) as course_week,
        count(*) filter (where is_covered_by_click_log) as days_covered,
        min_by(enrolled_students, course_day) as enrolled_students
    from enrolment_days
    group by all

),

activity as (

    select
        module_presentation_id,
        course_week,
        count(*) as active_students,
        cast(sum(active_days) as bigint) as student_active_days,
        cast(sum(total_clicks) as bigint) as total_clicks,
        {%- for t in main_activity_types() %}
        cast(sum(clicks_{{ t }}) as bigint) as clicks_{{ t }},
        {%- endfor %}
        cast(sum(clicks_other) as bigint) as clicks_other
    from weekly_activity
    group by all

),

joined as (

    select
        weeks.module_presentation_id,
        weeks.code_module,
        weeks.code_presentation,
        weeks.course_week,
        (weeks.course_week - 1) * 7 as week_start_day,
        (weeks.course_week - 1) * 7 + 6 as week_end_day,
        weeks.days_covered,
        weeks.enrolled_students,
        coalesce(activity.active_students, 0) as active_students,
        coalesce(activity.total_clicks, 0) as total_clicks,
        activity.student_active_days,
        {%- for t in main_activity_types() %}
        coalesce(activity.clicks_{{ t }}, 0) as clicks_{{ t }},
        {%- endfor %}
        coalesce(activity.clicks_other, 0) as clicks_other
    from weeks
    left join activity
        on
            weeks.module_presentation_id = activity.module_presentation_id
            and weeks.course_week = activity.course_week

)

select
    module_presentation_id,
    code_module,
    code_presentation,
    course_week,
    week_start_day,
    week_end_day,
    days_covered,
    enrolled_students,
    active_students,
    total_clicks,
    {{ engagement_rates() }},
    {{ safe_ratio('student_active_days', 'active_students', 2) }} as active_days_per_active_student,
    {%- for t in main_activity_types() %}
    clicks_{{ t }},
    {%- endfor %}
    clicks_other,
    -- BI shows per-student rates only for at least var(min_group_size) active students.
    {{ is_reportable_group('active_students') }} as is_reportable
from joined
