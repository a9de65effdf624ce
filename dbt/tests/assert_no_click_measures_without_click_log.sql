-- Where the click log does not cover a presentation (or the day a measure needs), click-based
-- measures must be unknown (NULL / 'no click data'), never 0.
-- Student-level click columns are found by name (clicks_*, total_clicks, active_*, ...) so that
-- columns added later are checked too. Each part runs only for marts that exist in the warehouse
-- (a partial build may not have built all of them).
-- depends_on: {{ ref('fct_student_engagement_summary') }}
-- depends_on: {{ ref('mart_withdrawal_prediction_features') }}
-- depends_on: {{ ref('mart_student_success_features') }}
-- depends_on: {{ ref('fct_course_engagement_daily') }}
-- depends_on: {{ ref('fct_weekly_engagement') }}
-- depends_on: {{ ref('mart_learning_funnel') }}
-- depends_on: {{ ref('int_click_coverage_measured') }}
{% set click_names = ['total_clicks', 'active_days', 'active_weeks', 'first_active_day', 'last_active_day',
                      'engagement_percentile', 'signal_low_engagement', 'signal_low_early_engagement'] %}
{% set coverage = ref('int_click_coverage_measured') %}

select
    null as model_name,
    null as column_name,
    null as row_key
where false

{% set student_level_marts = [
    'fct_student_engagement_summary', 'mart_withdrawal_prediction_features', 'mart_student_success_features'
] %}
{% for model in student_level_marts %}
{% if relation_exists(ref(model)) %}
{% for c in adapter.get_columns_in_relation(ref(model)) %}
{% set n = c.name | lower %}
{% if n.startswith('clicks_') or n in click_names %}
union all
select
    '{{ model }}' as model_name,
    '{{ n }}' as column_name,
    student_module_id as row_key
from {{ ref(model) }}
where not has_click_data and {{ n }} is not null
{% endif %}
{% endfor %}
{% endif %}
{% endfor %}

{% if relation_exists(ref('fct_student_engagement_summary')) %}
union all
-- engagement band says 'no click data' exactly where there is no click data
select
    'fct_student_engagement_summary' as model_name,
    'engagement_band' as column_name,
    student_module_id as row_key
from {{ ref('fct_student_engagement_summary') }}
where (not has_click_data) != (engagement_band = 'no click data')
{% endif %}

{% for model in ['fct_course_engagement_daily', 'fct_weekly_engagement'] %}
{% if relation_exists(ref(model)) %}
union all
-- no rows at all (not rows of zeros) for presentations without a click log
select
    '{{ model }}' as model_name,
    'module_presentation_id' as column_name,
    f.module_presentation_id as row_key
from {{ ref(model) }} as f
inner join {{ coverage }} as c on f.module_presentation_id = c.module_presentation_id
where not c.has_click_log
{% endif %}
{% endfor %}

{% if relation_exists(ref('mart_learning_funnel')) %}
union all
-- the "active early" stage is unknown where the log does not reach its day
select
    'mart_learning_funnel' as model_name,
    'student_count' as column_name,
    f.module_presentation_id as row_key
from {{ ref('mart_learning_funnel') }} as f
inner join {{ coverage }} as c on f.module_presentation_id = c.module_presentation_id
where
    f.stage = 'active_early'
    and coalesce(c.click_data_through_day, -1000000) < {{ var('funnel_active_by_day') }}
    and f.student_count is not null
{% endif %}
