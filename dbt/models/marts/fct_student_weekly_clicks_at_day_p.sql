{{ config(materialized='table') }}
-- The per-student drill-down's activity, as known on day P = var('prediction_day'): one row per
-- attempt of the day-P population per course week, from the week of the presentation's first click
-- to the week holding day P, with the attempt's clicks dated on or before P and its cohort's (the
-- presentation's day-P population, zeros included) quartiles of the same week. Only presentations
-- whose click log covers day P have rows: elsewhere the activity is unknown, not zero.
{% set p = var('prediction_day') | int %}

with population as (

    select * from {{ ref('int_student_attempts_enrolled_at_day_p') }}
    where
        prediction_day = {{ p }}
        and has_click_data

),

daily as (

    select * from {{ ref('int_student_activity_aggregated_daily') }}
    where click_day <= {{ p }}

),

presentation_weeks as (

    select
        module_presentation_id,
        {{ integer_series('min(course_week)', course_week(p)) }} as course_week
    from daily
    group by module_presentation_id

),

attempt_weeks as (

    select
        population.student_module_id,
        population.module_presentation_id,
        population.code_module,
        population.code_presentation,
        population.id_student,
        presentation_weeks.course_week
    from population
    inner join presentation_weeks on population.module_presentation_id = presentation_weeks.module_presentation_id

),

weekly as (

    select
        student_module_id,
        course_week,
        cast(sum(total_clicks) as bigint) as clicks,
        count(*) as active_days
    from daily
    group by all

),

joined as (

    select
        attempt_weeks.*,
        coalesce(weekly.clicks, 0) as student_clicks,
        coalesce(weekly.active_days, 0) as student_active_days
    from attempt_weeks
    left join weekly
        on
            attempt_weeks.student_module_id = weekly.student_module_id
            and attempt_weeks.course_week = weekly.course_week

),

cohort as (

    select
        module_presentation_id,
        course_week,
        count(*) as cohort_students,
        percentile_cont(0.25) within group (order by student_clicks) as cohort_p25_clicks,
        percentile_cont(0.5) within group (order by student_clicks) as cohort_median_clicks,
        percentile_cont(0.75) within group (order by student_clicks) as cohort_p75_clicks
    from joined
    group by all

)

select
    joined.student_module_id,
    joined.module_presentation_id,
    joined.code_module,
    joined.code_presentation,
    joined.id_student,
    cast(joined.course_week as integer) as course_week,
    cast((joined.course_week - 1) * 7 as integer) as week_start_day,
    cast(least((joined.course_week - 1) * 7 + 6, {{ p }}) as integer) as week_end_day,
    joined.student_clicks,
    joined.student_active_days,
    cohort.cohort_students,
    -- the cohort's quartiles only for a cohort of at least var(min_group_size) students
    case when {{ is_reportable_group('cohort.cohort_students') }} then round(cohort.cohort_p25_clicks, 1) end
        as cohort_p25_clicks,
    case when {{ is_reportable_group('cohort.cohort_students') }} then round(cohort.cohort_median_clicks, 1) end
        as cohort_median_clicks,
    case when {{ is_reportable_group('cohort.cohort_students') }} then round(cohort.cohort_p75_clicks, 1) end
        as cohort_p75_clicks
from joined
inner join cohort
    on
        joined.module_presentation_id = cohort.module_presentation_id
        and joined.course_week = cohort.course_week
