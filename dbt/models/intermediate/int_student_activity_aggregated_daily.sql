{{ config(materialized='table') }}
-- Clicks per student-module attempt per course day, split by VLE activity type.
-- Only days with at least one click have a row (a missing row on a covered day means 0 clicks).

with clicks as (

    select * from {{ ref('stg_oulad__student_vle') }}

),

sites as (

    select
        id_site,
        activity_type
    from {{ ref('stg_oulad__vle') }}

),

joined as (

    select
        clicks.*,
        sites.activity_type
    from clicks
    left join sites on clicks.id_site = sites.id_site

)

select
    student_module_id,
    module_presentation_id,
    code_module,
    code_presentation,
    id_student,
    click_day,
    {{ course_week('click_day') }} as course_week,
    cast(sum(clicks) as bigint) as total_clicks,
    count(distinct id_site) as n_sites,
    {%- for t in main_activity_types() %}
    cast(coalesce(sum(clicks) filter (where activity_type = '{{ t }}'), 0) as bigint) as clicks_{{ t }},
    {%- endfor %}
    cast(coalesce(sum(clicks) filter (
        where activity_type is null
        or activity_type not in {{ main_activity_types_sql() }}
    ), 0) as bigint) as clicks_other
from joined
group by all
