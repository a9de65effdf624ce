{{ config(materialized='table') }}
-- Click-log coverage measured per module-presentation from the data itself.
-- The OULAD copy used in development has clicks for only some presentations (and one of them
-- only up to a day before its end), so click measures must know which days the log covers.
-- The rule (macros/click_coverage.sql, var click_log_complete_tolerance_days):
--   * missing  : the presentation has no click at all        -> click measures are unknown (NULL)
--   * complete : last click day >= module length - tolerance  -> covered through the module end
--   * partial  : clicks stop earlier                           -> covered through the last click day
-- The official full dataset is complete everywhere and lands in 'complete' without special handling.
-- In an export as of a date (a live term) a running presentation's log can reach only that date's course day
-- (int_presentations_observed_by_export): that day stands for the module end in the rule (observable_through_day).

with courses as (

    select * from {{ ref('stg_oulad__courses') }}

),

observed as (

    select * from {{ ref('int_presentations_observed_by_export') }}

),

daily as (

    -- The click log aggregated per attempt and day (its record count kept), read instead of the raw log.
    select * from {{ ref('int_student_activity_aggregated_daily') }}

),

attempts as (

    select
        module_presentation_id,
        count(*) as n_attempts
    from {{ ref('stg_oulad__student_info') }}
    group by module_presentation_id

),

clicks_per_presentation as (

    select
        module_presentation_id,
        sum(click_log_records) as click_log_records,
        count(distinct student_module_id) as n_students_with_clicks,
        min(click_day) as first_click_day,
        max(click_day) as last_click_day
    from daily
    group by module_presentation_id

),

measured as (

    select
        courses.module_presentation_id,
        courses.code_module,
        courses.code_presentation,
        courses.module_presentation_length,
        -- The last course day a log can reach: the module end, or the export's day while it runs.
        least(
            courses.module_presentation_length,
            coalesce(observed.observed_through_day, courses.module_presentation_length)
        ) as observable_through_day,
        coalesce(cpp.click_log_records, 0) as click_log_records,
        coalesce(cpp.click_log_records, 0) > 0 as has_click_log,
        cpp.first_click_day,
        cpp.last_click_day,
        -- NULL (unknown), not 0, when there is no log.
        cpp.n_students_with_clicks,
        coalesce(attempts.n_attempts, 0) as n_attempts,
        {{ safe_ratio('cpp.n_students_with_clicks', 'attempts.n_attempts', 4) }} as share_attempts_with_clicks
    from courses
    left join clicks_per_presentation as cpp
        on courses.module_presentation_id = cpp.module_presentation_id
    left join attempts
        on courses.module_presentation_id = attempts.module_presentation_id
    left join observed
        on courses.module_presentation_id = observed.module_presentation_id

),

classified as (

    select
        *,
        {{ click_coverage_status(module_presentation_length='observable_through_day') }} as coverage_status
    from measured

)

select
    *,
    -- Last course day whose clicks are in the log (NULL when there is no log).
    {{ click_data_through_day(module_presentation_length='observable_through_day') }} as click_data_through_day
from classified
