-- clicks_* features of the day-P population: VLE clicks dated on or before day P = var('prediction_day').
-- NULL (unknown), never 0, where the presentation's click log does not cover day P (has_click_data);
-- where it does, an attempt without a click genuinely has 0 clicks.
{% set p = var('prediction_day') | int %}
{% set half = (p / 2) | int %}

with population as (

    select * from {{ ref('int_student_attempts_enrolled_at_day_p') }}

),

daily as (

    select * from {{ ref('int_student_activity_aggregated_daily') }}
    where click_day <= {{ p }}

),

per_attempt as (

    select
        student_module_id,
        {{ student_click_sums() }},
        {{ sum_clicks_where('click_day between 0 and ' ~ half) }} as clicks_first_half,
        {{ sum_clicks_where('click_day between ' ~ (half + 1) ~ ' and ' ~ p) }} as clicks_second_half,
        {{ sum_clicks_where('click_day between ' ~ (p - 6) ~ ' and ' ~ p) }} as clicks_last_7_days,
        {{ sum_clicks_where('click_day between ' ~ (p - 13) ~ ' and ' ~ (p - 7)) }} as clicks_prev_7_days,
        count(*) filter (where click_day between {{ p - 6 }} and {{ p }}) as active_days_last_7_days
    from daily
    group by student_module_id

),

joined as (

    select
        population.student_module_id,
        population.module_presentation_id,
        population.has_click_data,
        per_attempt.* exclude (per_attempt.student_module_id)
    from population
    left join per_attempt on population.student_module_id = per_attempt.student_module_id

)

select
    student_module_id,
    case when has_click_data then coalesce(total_clicks, 0) end as clicks_total,
    case when has_click_data then coalesce(active_days, 0) end as clicks_active_days,
    {%- for t in main_activity_types() %}
    case when has_click_data then coalesce(clicks_{{ t }}, 0) end as clicks_{{ t }},
    {%- endfor %}
    case when has_click_data then coalesce(clicks_other, 0) end as clicks_other,
    case when has_click_data then coalesce(clicks_before_start, 0) end as clicks_before_start,
    case when has_click_data then coalesce(clicks_first_half, 0) end as clicks_first_half,
    case when has_click_data then coalesce(clicks_second_half, 0) end as clicks_second_half,
    -- Trend: log((second half + 1) / (first half + 1)); > 0 = rising, < 0 = falling.
    case
        when has_click_data
            then round(ln((coalesce(clicks_second_half, 0) + 1.0) / (coalesce(clicks_first_half, 0) + 1.0)), 4)
    end as clicks_trend_log_ratio,
    case when has_click_data then coalesce(clicks_last_7_days, 0) end as clicks_last_7_days,
    case when has_click_data then coalesce(clicks_prev_7_days, 0) end as clicks_prev_7_days,
    case
        when has_click_data then coalesce(clicks_last_7_days, 0) - coalesce(clicks_prev_7_days, 0)
    end as clicks_week_over_week_change,
    case when has_click_data then coalesce(active_days_last_7_days, 0) end as clicks_active_days_last_7_days,
    case when has_click_data then first_active_day end as clicks_first_active_day,
    -- Recency: P - last active day (NULL when never active by P; see clicks_total = 0).
    case when has_click_data then {{ p }} - last_active_day end as clicks_days_since_last_active,
    -- Percent rank (0..1) of clicks_total within the presentation's day-P population.
    case
        when has_click_data then round(percent_rank() over (
            partition by module_presentation_id order by coalesce(total_clicks, 0)
        ), 4)
    end as clicks_total_percentile
from joined
