-- Daily and weekly engagement facts may only contain days covered by the presentation's click log.
-- Each part runs only when its mart exists (a partial build may not have built both).
-- depends_on: {{ ref('fct_course_engagement_daily') }}
-- depends_on: {{ ref('fct_weekly_engagement') }}
{% set coverage = ref('int_click_coverage_measured') %}

select
    null as grain,
    null as module_presentation_id,
    null as period
where false

{% if relation_exists(ref('fct_course_engagement_daily')) %}
union all
select
    'daily' as grain,
    f.module_presentation_id,
    f.course_day as period
from {{ ref('fct_course_engagement_daily') }} as f
inner join {{ coverage }} as c on f.module_presentation_id = c.module_presentation_id
where
    f.course_day > c.click_data_through_day
    or f.course_day < c.first_click_day
    or c.click_data_through_day is null
{% endif %}

{% if relation_exists(ref('fct_weekly_engagement')) %}
union all
select
    'weekly' as grain,
    f.module_presentation_id,
    f.course_week as period
from {{ ref('fct_weekly_engagement') }} as f
inner join {{ coverage }} as c on f.module_presentation_id = c.module_presentation_id
where
    f.week_start_day > c.click_data_through_day
    or f.week_end_day < c.first_click_day
    or c.click_data_through_day is null
{% endif %}
