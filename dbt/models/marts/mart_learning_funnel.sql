-- One row per module-presentation per funnel stage:
--   1 registered                  every student-module attempt
--   2 active_early                clicked in the VLE on or before day var(funnel_active_by_day)
--                                 (default 30, pre-start days included); NULL where the click log
--                                 does not cover that day
--   3 submitted_first_assessment  submitted (or had banked) the first coursework assessment
--   4 completed                   final_result Pass, Distinction or Fail (i.e. not withdrawn)
--   5 passed                      final_result Pass or Distinction
-- student_count is cumulative: students meeting this stage AND every earlier stage that could be
-- evaluated (stage 2 is skipped where it is NULL), so counts never increase along the funnel.
-- stage_condition_count counts students meeting this stage's own condition alone.
{% set active_by_day = var('funnel_active_by_day') %}

with attempts as (

    select * from {{ ref('int_student_attempts_joined') }}

),

daily as (

    select * from {{ ref('int_student_activity_aggregated_daily') }}

),

schedule as (

    select * from {{ ref('int_student_assessment_schedule_joined') }}

),

active_early as (

    select distinct student_module_id
    from daily
    where click_day <= {{ active_by_day }}

),

first_assessment as (

    select
        student_module_id,
        bool_or(is_submitted) as submitted_first_assessment
    from schedule
    where is_first_coursework
    group by student_module_id

),

per_attempt as (

    select
        attempts.module_presentation_id,
        attempts.code_module,
        attempts.code_presentation,
        {{ click_log_covers_day(active_by_day, 'attempts.has_click_log', 'attempts.click_data_through_day') }}
            as active_stage_evaluated,
        case
            when {{ click_log_covers_day(active_by_day, 'attempts.has_click_log', 'attempts.click_data_through_day') }}
                then active_early.student_module_id is not null
        end as is_active_early,
        coalesce(first_assessment.submitted_first_assessment, false) as submitted_first_assessment,
        attempts.final_result in ('Pass', 'Distinction', 'Fail') as is_completed,
        attempts.final_result in ('Pass', 'Distinction') as is_passed
    from attempts
    left join active_early on attempts.student_module_id = active_early.student_module_id
    left join first_assessment on attempts.student_module_id = first_assessment.student_module_id

),

cumulative as (

    select
        *,
        coalesce(is_active_early, true) as reached_2,
        coalesce(is_active_early, true) and submitted_first_assessment as reached_3,
        coalesce(is_active_early, true) and submitted_first_assessment and is_completed as reached_4,
        coalesce(is_active_early, true) and submitted_first_assessment and is_completed and is_passed as reached_5
    from per_attempt

),

per_presentation as (

    select
        module_presentation_id,
        code_module,
        code_presentation,
        bool_and(active_stage_evaluated) as active_stage_evaluated,
        count(*) as n_registered,
        count(*) filter (where is_active_early) as n_active_early,
        count(*) filter (where reached_3) as n_reached_3,
        count(*) filter (where reached_4) as n_reached_4,
        count(*) filter (where reached_5) as n_reached_5,
        count(*) filter (where submitted_first_assessment) as n_cond_3,
        count(*) filter (where is_completed) as n_cond_4,
        count(*) filter (where is_passed) as n_cond_5
    from cumulative
    group by all

),

stages as (

    select
        module_presentation_id,
        code_module,
        code_presentation,
        n_registered,
        1 as stage_order,
        'registered' as stage,
        'Registered' as stage_label,
        n_registered as student_count,
        n_registered as stage_condition_count
    from per_presentation
    union all
    select
        module_presentation_id,
        code_module,
        code_presentation,
        n_registered,
        2 as stage_order,
        'active_early' as stage,
        'Active in the VLE by day {{ active_by_day }}' as stage_label,
        case when active_stage_evaluated then n_active_early end as student_count,
        case when active_stage_evaluated then n_active_early end as stage_condition_count
    from per_presentation
    union all
    select
        module_presentation_id,
        code_module,
        code_presentation,
        n_registered,
        3 as stage_order,
        'submitted_first_assessment' as stage,
        'Submitted the first assessment' as stage_label,
        n_reached_3 as student_count,
        n_cond_3 as stage_condition_count
    from per_presentation
    union all
    select
        module_presentation_id,
        code_module,
        code_presentation,
        n_registered,
        4 as stage_order,
        'completed' as stage,
        'Completed (Pass, Distinction or Fail)' as stage_label,
        n_reached_4 as student_count,
        n_cond_4 as stage_condition_count
    from per_presentation
    union all
    select
        module_presentation_id,
        code_module,
        code_presentation,
        n_registered,
        5 as stage_order,
        'passed' as stage,
        'Passed (Pass or Distinction)' as stage_label,
        n_reached_5 as student_count,
        n_cond_5 as stage_condition_count
    from per_presentation

)

select
    module_presentation_id || '_' || cast(stage_order as string) as funnel_stage_id,
    module_presentation_id,
    code_module,
    code_presentation,
    stage_order,
    stage,
    stage_label,
    student_count is not null as is_evaluated,
    student_count,
    stage_condition_count,
    {{ safe_ratio('student_count', 'n_registered', 4) }} as pct_of_registered,
    -- BI shows counts only for groups of at least var(min_group_size) students.
    {{ is_reportable_group('student_count') }} as is_reportable
from stages
