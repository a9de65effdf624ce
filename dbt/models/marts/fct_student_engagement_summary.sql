-- One row per student-module attempt: VLE engagement over the whole presentation.
-- Coverage rules (see int_click_coverage_measured):
--   * presentation without click log -> every click measure is NULL, engagement_band = 'no click data'
--   * partial log                     -> measures count only the covered days (click_measures_complete = false)
--   * covered and no click            -> genuine 0 clicks

with attempts as (

    select * from {{ ref('int_student_attempts_joined') }}

),

daily as (

    select * from {{ ref('int_student_activity_aggregated_daily') }}

),

per_attempt as (

    select
        student_module_id,
        {{ student_click_sums() }},
        count(distinct course_week) as active_weeks,
        -- First 4 weeks = course days 0..27.
        {{ sum_clicks_where('click_day between 0 and 27') }} as clicks_first_4_weeks
    from daily
    group by student_module_id

),

measures as (

    select
        attempts.student_module_id,
        attempts.module_presentation_id,
        attempts.code_module,
        attempts.code_presentation,
        attempts.id_student,
        attempts.has_click_log as has_click_data,
        attempts.click_coverage_status,
        attempts.click_data_through_day,
        attempts.click_coverage_status = 'complete' as click_measures_complete,
        -- "when has_click_log" leaves every measure NULL (unknown) where there is no log;
        -- coalesce(.., 0) turns "no row" into a genuine 0 where the log exists.
        case when attempts.has_click_log then coalesce(p.total_clicks, 0) end as total_clicks,
        case when attempts.has_click_log then coalesce(p.active_days, 0) end as active_days,
        case when attempts.has_click_log then coalesce(p.active_weeks, 0) end as active_weeks,
        case when attempts.has_click_log then p.first_active_day end as first_active_day,
        case when attempts.has_click_log then p.last_active_day end as last_active_day,
        case when attempts.has_click_log then coalesce(p.clicks_before_start, 0) end as clicks_before_start,
        -- Needs the log to cover day 27.
        case
            when {{ click_log_covers_day(27, 'attempts.has_click_log', 'attempts.click_data_through_day') }}
                then coalesce(p.clicks_first_4_weeks, 0)
        end as clicks_first_4_weeks,
        {%- for t in main_activity_types() %}
        case when attempts.has_click_log then coalesce(p.clicks_{{ t }}, 0) end as clicks_{{ t }},
        {%- endfor %}
        case when attempts.has_click_log then coalesce(p.clicks_other, 0) end as clicks_other
    from attempts
    left join per_attempt as p on attempts.student_module_id = p.student_module_id

),

ranked as (

    select
        *,
        -- Within-presentation rank of total clicks, 0 (fewest) .. 1 (most); ties share the lowest rank.
        case
            when has_click_data then percent_rank() over (
                partition by module_presentation_id, has_click_data
                order by total_clicks
            )
        end as engagement_percentile
    from measures

)

select
    *,
    {{ safe_ratio('total_clicks', 'active_days', 2) }} as clicks_per_active_day,
    -- Tertiles of total clicks within the presentation.
    case
        when not has_click_data then 'no click data'
        when engagement_percentile < 1.0 / 3 then 'low'
        when engagement_percentile < 2.0 / 3 then 'medium'
        else 'high'
    end as engagement_band
from ranked
