{{ config(materialized='table') }}
-- Clicks per student-module attempt per course week (week 1 = days 0..6; weeks <= 0 are before
-- the start), split by VLE activity type. Only weeks with at least one click have a row.

with daily as (

    select * from {{ ref('int_student_activity_aggregated_daily') }}

)

select
    student_module_id,
    module_presentation_id,
    code_module,
    code_presentation,
    id_student,
    course_week,
    min(click_day) as first_active_day,
    max(click_day) as last_active_day,
    count(*) as active_days,
    cast(sum(total_clicks) as bigint) as total_clicks,
    {%- for t in main_activity_types() %}
    cast(sum(clicks_{{ t }}) as bigint) as clicks_{{ t }},
    {%- endfor %}
    cast(sum(clicks_other) as bigint) as clicks_other
from daily
group by all
