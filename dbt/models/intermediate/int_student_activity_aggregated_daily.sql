{{ config(
    materialized=incremental_fact_materialization(),
    schema='incremental',
    incremental_strategy='delete+insert',
    unique_key=['code_module', 'code_presentation', 'click_day'],
    on_schema_change='fail',
    pre_hook="{{ delete_vanished_partitions(
        ref('stg_oulad__student_vle'), ['code_module', 'code_presentation', 'click_day']
    ) }}",
) }}
-- Clicks per student-module attempt per course day, split by VLE activity type.
-- Only days with at least one click have a row (a missing row on a covered day means 0 clicks).
-- Incremental by partition (module, presentation, course day; macros/incremental_partitions.sql): a weekly run
-- aggregates only the days its export added or changed.

with sites as (

    select
        id_site,
        activity_type
    from {{ ref('stg_oulad__vle') }}

),

joined as (

    select
        clicks.*,
        sites.activity_type
    from {{ ref('stg_oulad__student_vle') }} as clicks
    left join sites on clicks.id_site = sites.id_site

),

digests as (

    -- On the raw columns only (no derived keys: a pass over the whole log that stays cheap). The same join as
    -- `joined`, written out again: a CTE read twice is materialized whole by DuckDB (the whole log, 3x slower than
    -- a weekly run's other work on this model), where `aggregated` below needs only the changed partitions of it.
    select
        clicks.code_module,
        clicks.code_presentation,
        clicks.click_day,
        {{ partition_digest(['clicks.id_student', 'clicks.id_site', 'clicks.clicks', 'sites.activity_type']) }}
            as partition_digest
    from {{ ref('stg_oulad__student_vle') }} as clicks
    left join sites on clicks.id_site = sites.id_site
    group by clicks.code_module, clicks.code_presentation, clicks.click_day

),

changed as (

    {{ changed_partitions('digests', ['code_module', 'code_presentation', 'click_day']) }}

),

aggregated as (

    select
        joined.student_module_id,
        joined.module_presentation_id,
        joined.code_module,
        joined.code_presentation,
        joined.id_student,
        joined.click_day,
        {{ course_week('joined.click_day') }} as course_week,
        cast(sum(joined.clicks) as bigint) as total_clicks,
        count(distinct joined.id_site) as n_sites,
        {%- for t in main_activity_types() %}
        cast(coalesce(sum(joined.clicks) filter (where joined.activity_type = '{{ t }}'), 0) as bigint)
            as clicks_{{ t }},
        {%- endfor %}
        cast(coalesce(sum(joined.clicks) filter (
            where joined.activity_type is null
            or joined.activity_type not in {{ main_activity_types_sql() }}
        ), 0) as bigint) as clicks_other,
        -- Click-log records (rows of the raw log) behind the day's figures.
        count(*) as click_log_records,
        changed.partition_digest,
        current_timestamp as partition_built_at
    from joined
    inner join changed
        on
            joined.code_module = changed.code_module
            and joined.code_presentation = changed.code_presentation
            and joined.click_day = changed.click_day
    group by all

)

select * from aggregated
