{{ config(
    materialized=incremental_fact_materialization(),
    schema='incremental',
    incremental_strategy='delete+insert',
    unique_key=['code_module', 'code_presentation', 'course_week'],
    on_schema_change='fail',
    pre_hook="{{ delete_vanished_partitions(
        ref('int_student_activity_aggregated_daily'), ['code_module', 'code_presentation', 'course_week']
    ) }}",
) }}
-- Clicks per student-module attempt per course week (week 1 = days 0..6; weeks <= 0 are before
-- the start), split by VLE activity type. Only weeks with at least one click have a row.
-- Incremental by partition (module, presentation, course week; macros/incremental_partitions.sql): a week is
-- re-aggregated only when the digest of one of its daily partitions changed, so a weekly run aggregates the weeks its
-- export added or changed.

with digests as (

    -- From the daily partitions' own digests (one per presentation and course day), not from their rows.
    select
        code_module,
        code_presentation,
        course_week,
        {{ partition_digest(['click_day', 'partition_digest']) }} as partition_digest
    from (
        select distinct
            code_module,
            code_presentation,
            course_week,
            click_day,
            partition_digest
        from {{ ref('int_student_activity_aggregated_daily') }}
    ) as partitions
    group by code_module, code_presentation, course_week

),

changed as (

    {{ changed_partitions('digests', ['code_module', 'code_presentation', 'course_week']) }}

),

daily as (

    select
        daily.*,
        changed.partition_digest as week_digest
    from {{ ref('int_student_activity_aggregated_daily') }} as daily
    inner join changed
        on
            daily.code_module = changed.code_module
            and daily.code_presentation = changed.code_presentation
            and daily.course_week = changed.course_week

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
    cast(sum(clicks_other) as bigint) as clicks_other,
    week_digest as partition_digest,
    current_timestamp as partition_built_at
from daily
group by student_module_id, module_presentation_id, code_module, code_presentation, id_student, course_week, week_digest
