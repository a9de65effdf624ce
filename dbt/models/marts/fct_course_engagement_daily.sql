-- One row per module-presentation per course day, ONLY for days covered by the click log
-- (from the first click day to click_data_through_day). Presentations without a click log have
-- no rows: their engagement is unknown, not zero.

with enrolment_days as (

    select * from {{ ref('int_enrolments_joined_to_days') }}
    where is_covered_by_click_log

),

daily_activity as (

    select * from {{ ref('int_student_activity_aggregated_daily') }}

),

activity as (

    select
        module_presentation_id,
        click_day as course_day,
        count(*) as active_students,
        cast(sum(total_clicks) as bigint) as total_clicks
    from daily_activity
    group by all

),

joined as (

    select
        enrolment_days.module_presentation_id,
        enrolment_days.code_module,
        enrolment_days.code_presentation,
        enrolment_days.course_day,
        enrolment_days.course_week,
        enrolment_days.enrolled_students,
        -- A covered day without any click is a genuine 0.
        coalesce(activity.active_students, 0) as active_students,
        coalesce(activity.total_clicks, 0) as total_clicks
    from enrolment_days
    left join activity
        on
            enrolment_days.module_presentation_id = activity.module_presentation_id
            and enrolment_days.course_day = activity.course_day

)

select
    *,
    {{ engagement_rates() }},
    -- BI shows per-student rates only for at least var(min_group_size) active students.
    {{ is_reportable_group('active_students') }} as is_reportable
from joined
