{{ config(
    materialized=incremental_fact_materialization(),
    schema='incremental',
    incremental_strategy='delete+insert',
    unique_key=['module_presentation_id'],
    on_schema_change='fail',
    pre_hook="{{ delete_vanished_partitions(
        ref('int_student_attempts_enrolled_at_day_p'), ['module_presentation_id']
    ) }}",
) }}
-- clicks_* features of the population at each checkpoint P: VLE clicks dated on or before day P.
-- NULL (unknown), never 0, where the presentation's click log does not cover day P (has_click_data);
-- where it does, an attempt without a click genuinely has 0 clicks. The two halves are days 0..floor(P/2)
-- and floor(P/2)+1..P; the last 7 days are P-6..P, the 7 before them P-13..P-7, the last 14 days P-13..P.
-- Incremental by module-presentation (macros/incremental_partitions.sql): a presentation's rows are rebuilt only
-- when its population or its daily click partitions changed, so a weekly run recomputes the running presentations.

with population_digests as (

    select
        module_presentation_id,
        {{ rows_digest(['student_module_id', 'prediction_day', 'has_click_data']) }} as population_digest
    from {{ ref('int_student_attempts_enrolled_at_day_p') }}
    group by module_presentation_id

),

activity_digests as (

    -- From the daily partitions' own digests (one per presentation and course day), not from their rows.
    select
        module_presentation_id,
        {{ rows_digest(['click_day', 'partition_digest']) }} as activity_digest
    from (
        select distinct
            module_presentation_id,
            click_day,
            partition_digest
        from {{ ref('int_student_activity_aggregated_daily') }}
    ) as partitions
    group by module_presentation_id

),

digests as (

    select
        population_digests.module_presentation_id,
        {{ inputs_digest(['population_digests.population_digest', 'activity_digests.activity_digest']) }}
            as partition_digest
    from population_digests
    left join activity_digests
        on population_digests.module_presentation_id = activity_digests.module_presentation_id

),

changed as (

    {{ changed_partitions('digests', ['module_presentation_id']) }}

),

population as (

    select
        population.*,
        changed.partition_digest
    from {{ ref('int_student_attempts_enrolled_at_day_p') }} as population
    inner join changed on population.module_presentation_id = changed.module_presentation_id

),

daily as (

    -- The population's active days dated on or before its checkpoint P.
    select
        activity.*,
        population.prediction_day,
        cast(floor(population.prediction_day / 2) as integer) as half_day
    from {{ ref('int_student_activity_aggregated_daily') }} as activity
    inner join population
        on
            activity.student_module_id = population.student_module_id
            and activity.click_day <= population.prediction_day

),

per_attempt as (

    select
        student_module_id,
        prediction_day,
        {{ student_click_sums() }},
        {{ sum_clicks_where('click_day between 0 and half_day') }} as clicks_first_half,
        {{ sum_clicks_where('click_day > half_day') }} as clicks_second_half,
        {{ sum_clicks_where('click_day >= prediction_day - 6') }} as clicks_last_7_days,
        {{ sum_clicks_where('click_day between prediction_day - 13 and prediction_day - 7') }} as clicks_prev_7_days,
        {{ sum_clicks_where('click_day >= prediction_day - 13') }} as clicks_last_14_days,
        count(*) filter (where click_day >= prediction_day - 6) as active_days_last_7_days
    from daily
    group by student_module_id, prediction_day

),

joined as (

    select
        population.student_module_id,
        population.prediction_day,
        population.module_presentation_id,
        population.has_click_data,
        population.partition_digest,
        {{ star_except('per_attempt', ['student_module_id', 'prediction_day']) }}
    from population
    left join per_attempt
        on
            population.student_module_id = per_attempt.student_module_id
            and population.prediction_day = per_attempt.prediction_day

)

select
    student_module_id,
    prediction_day,
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
    case when has_click_data then prediction_day - last_active_day end as clicks_days_since_last_active,
    -- Percent rank (0..1) of clicks_total within the presentation's day-P population.
    case
        when has_click_data then round(percent_rank() over (
            partition by module_presentation_id, prediction_day order by coalesce(total_clicks, 0)
        ), 4)
    end as clicks_total_percentile,
    case when has_click_data then coalesce(clicks_last_14_days, 0) end as clicks_last_14_days,
    -- Last 14 days against the presentation's day-P population: log((clicks + 1) / (cohort median + 1)).
    case
        when has_click_data
            then round(ln((coalesce(clicks_last_14_days, 0) + 1.0) / (median(coalesce(clicks_last_14_days, 0)) over (
                partition by module_presentation_id, prediction_day
            ) + 1.0)), 4)
    end as clicks_last_14_days_vs_cohort,
    module_presentation_id,
    partition_digest,
    current_timestamp as partition_built_at
from joined
