{#- round(numerator / denominator, digits) (as DuckDB rounds a double); NULL when the denominator is 0 or NULL. -#}
{% macro safe_ratio(numerator, denominator, digits) -%}
    {{ round_double('(' ~ numerator ~ ') / nullif(' ~ denominator ~ ', 0)', digits) }}
{%- endmacro %}

{#- is_reportable flag of aggregate marts: BI shows a group's statistics only when it has at least
    var(min_group_size) members. -#}
{% macro is_reportable_group(group_size) -%}
    coalesce({{ group_size }}, 0) >= {{ var('min_group_size') }}
{%- endmacro %}

{#- Per-student rates of the daily and weekly engagement facts (fct_course_engagement_daily,
    fct_weekly_engagement). Pass the period's counts with NULL already turned into 0. -#}
{% macro engagement_rates(
    total_clicks='total_clicks',
    active_students='active_students',
    enrolled_students='enrolled_students'
) -%}
    {{ safe_ratio(total_clicks, active_students, 2) }} as clicks_per_active_student,
    {{ safe_ratio(total_clicks, enrolled_students, 2) }} as clicks_per_enrolled_student,
    {{ safe_ratio(active_students, enrolled_students, 4) }} as active_share
{%- endmacro %}

{#- Clicks of the rows (days) of int_student_activity_aggregated_daily that meet `condition`. -#}
{% macro sum_clicks_where(condition) -%}
    cast(sum(total_clicks) filter (where {{ condition }}) as bigint)
{%- endmacro %}

{#- Per-attempt click sums over int_student_activity_aggregated_daily (one row per attempt and active
    day), grouped by student_module_id: shared by fct_student_engagement_summary (the whole
    presentation) and int_student_clicks_at_day_p (days <= P). -#}
{% macro student_click_sums() -%}
    cast(sum(total_clicks) as bigint) as total_clicks,
    count(*) as active_days,
    min(click_day) as first_active_day,
    max(click_day) as last_active_day,
    {{ sum_clicks_where('click_day < 0') }} as clicks_before_start,
    {%- for t in main_activity_types() %}
    cast(sum(clicks_{{ t }}) as bigint) as clicks_{{ t }},
    {%- endfor %}
    cast(sum(clicks_other) as bigint) as clicks_other
{%- endmacro %}
