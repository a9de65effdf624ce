-- Features for predicting withdrawal, as known on the prediction day P = var('prediction_day')
-- (default 30). One row per student-module attempt still enrolled on day P:
--   (registration_day is null or registration_day <= P) and (unregistration_day is null or unregistration_day > P)
--
-- Leakage rule: every feature column uses only events dated on or before day P (clicks with
-- click_day <= P, submissions with submitted_day <= P, assessments due on or before P), plus facts
-- known at registration (demographics, previous attempts, credits, registration day), plus final
-- results of presentations that had certainly ENDED before this presentation's day P
-- (int_presentations_calendar_estimated). Unregistration after P and this attempt's final_result
-- enter ONLY the target column.
--
-- Prefixes: clicks_* (VLE clicks; NULL, never 0, when has_click_data is false),
--           assess_* (assessments), reg_* (registration), demo_* (demographics),
--           load_* (other modules in the same presentation, as of day P),
--           prior_* (earlier, ended presentations of the student and of the module),
--           cohort_* (the presentation's cohort as of day P).
{% set p = var('prediction_day') %}
{% set half = (p / 2) | int %}

with attempts as (

    select * from {{ ref('int_student_attempts_joined') }}

),

daily as (

    select * from {{ ref('int_student_activity_aggregated_daily') }}
    where click_day <= {{ p }}

),

submissions as (

    select * from {{ ref('int_assessment_submissions_joined') }}
    where submitted_day <= {{ p }}

),

assessments_due as (

    -- Assessments with a due day on or before P (exams without a due day are never due by P).
    select module_presentation_id, id_assessment, due_day
    from {{ ref('stg_oulad__assessments') }}
    where due_day is not null
      and due_day <= {{ p }}

),

population as (

    select *
    from attempts
    where {{ is_enrolled_on_day(p) }}

),

compared_submissions as (

    select * from {{ ref('int_assessment_submissions_compared_to_cohort') }}

),

student_history as (

    select * from {{ ref('int_student_attempt_history') }}

),

module_history as (

    select * from {{ ref('int_module_presentation_history') }}

),

study_load as (

    select * from {{ ref('int_student_study_load_at_day_p') }}

),

cohort as (

    select * from {{ ref('int_module_presentation_cohort_at_day_p') }}

),

click_features as (

    select
        student_module_id,
        cast(sum(total_clicks) as bigint)                                          as clicks_total,
        count(*)                                                                   as clicks_active_days,
        {%- for t in main_activity_types() %}
        cast(sum(clicks_{{ t }}) as bigint)                                        as clicks_{{ t }},
        {%- endfor %}
        cast(sum(clicks_other) as bigint)                                          as clicks_other,
        cast(sum(total_clicks) filter (where click_day < 0) as bigint)             as clicks_before_start,
        cast(sum(total_clicks) filter (where click_day between 0 and {{ half }}) as bigint)
                                                                                   as clicks_first_half,
        cast(sum(total_clicks) filter (where click_day between {{ half + 1 }} and {{ p }}) as bigint)
                                                                                   as clicks_second_half,
        cast(sum(total_clicks) filter (where click_day between {{ p - 6 }} and {{ p }}) as bigint)
                                                                                   as clicks_last_7_days,
        cast(sum(total_clicks) filter (where click_day between {{ p - 13 }} and {{ p - 7 }}) as bigint)
                                                                                   as clicks_prev_7_days,
        count(*) filter (where click_day between {{ p - 6 }} and {{ p }})          as clicks_active_days_last_7_days,
        min(click_day)                                                             as clicks_first_active_day,
        max(click_day)                                                             as clicks_last_active_day
    from daily
    group by student_module_id

),

assessment_due_features as (

    -- Per attempt in the population: assessments due by P and whether each was submitted by P.
    select
        population.student_module_id,
        count(assessments_due.id_assessment)                                       as assess_due_count,
        count(submissions.assessment_submission_id)                                as assess_due_submitted_count
    from population
    left join assessments_due
        on population.module_presentation_id = assessments_due.module_presentation_id
    left join submissions
        on submissions.student_module_id = population.student_module_id
       and submissions.id_assessment = assessments_due.id_assessment
    group by population.student_module_id

),

submission_features as (

    select
        student_module_id,
        count(*) filter (where not is_banked)                                      as assess_submitted_count,
        count(*) filter (where is_banked)                                          as assess_banked_count,
        count(*) filter (where is_late)                                            as assess_late_count,
        avg(score)                                                                 as assess_mean_score,
        sum(score * weight) filter (where weight > 0)
            / nullif(sum(weight) filter (where weight > 0 and score is not null), 0) as assess_weighted_score,
        -- Timeliness only of assessments already due by P, so that nothing about assessments due
        -- after P (not even their due day) enters a feature.
        avg(days_early) filter (where due_day <= {{ p }})                          as assess_mean_days_early,
        min(days_early) filter (where due_day <= {{ p }})                          as assess_min_days_early,
        -- Submitted by P although due after P (working ahead).
        count(*) filter (where not is_banked and effective_due_day > {{ p }})      as assess_submitted_ahead_count,
        count(*) filter (where score < 40)                                         as assess_failed_count,
        max(score)                                                                 as assess_max_score,
        min(score)                                                                 as assess_min_score,
        min(submitted_day) filter (where not is_banked)                            as assess_first_submitted_day
    from submissions
    group by student_module_id

),

cohort_comparison_features as (

    select
        student_module_id,
        avg(score_z)                                                               as assess_score_z_mean,
        avg(days_after_cohort_median)                                              as assess_days_after_cohort_median
    from compared_submissions
    group by student_module_id

),

joined as (

    select
        -- keys
        population.student_module_id,
        population.code_module,
        population.code_presentation,
        population.id_student,
        population.module_presentation_id,
        population.presentation_year,
        population.presentation_semester,
        {{ p }}                                                                    as prediction_day,
        -- The click log covers day P for this presentation.
        coalesce(population.has_click_log and population.click_data_through_day >= {{ p }}, false)
                                                                                   as has_click_data,
        c.* exclude (student_module_id),
        ad.assess_due_count,
        ad.assess_due_submitted_count,
        s.* exclude (student_module_id),
        population.registration_day,
        population.num_of_prev_attempts,
        population.studied_credits,
        population.gender,
        population.region,
        population.highest_education,
        population.imd_band,
        population.age_band,
        population.disability,
        cc.assess_score_z_mean,
        cc.assess_days_after_cohort_median,
        sl.load_other_modules_registered,
        sl.load_other_modules_enrolled,
        sl.load_other_modules_unregistered,
        sh.prior_attempts_ended,
        sh.prior_same_module_attempts_ended,
        sh.prior_withdrawn_count,
        sh.prior_failed_count,
        sh.prior_passed_count,
        mh.prior_module_presentations_ended,
        mh.prior_module_withdrawal_rate,
        co.cohort_registered_by_day_p,
        co.cohort_unregistered_share_by_day_p,
        co.cohort_median_registration_day,
        -- target inputs (never features)
        population.unregistration_day                                              as target_unregistration_day,
        population.final_result                                                    as target_final_result
    from population
    left join click_features as c on population.student_module_id = c.student_module_id
    left join assessment_due_features as ad on population.student_module_id = ad.student_module_id
    left join submission_features as s on population.student_module_id = s.student_module_id
    left join cohort_comparison_features as cc on population.student_module_id = cc.student_module_id
    left join study_load as sl on population.student_module_id = sl.student_module_id
    left join student_history as sh on population.student_module_id = sh.student_module_id
    left join module_history as mh on population.module_presentation_id = mh.module_presentation_id
    left join cohort as co on population.module_presentation_id = co.module_presentation_id

)

select
    student_module_id,
    code_module,
    code_presentation,
    id_student,
    module_presentation_id,
    presentation_year,
    presentation_semester,
    prediction_day,
    has_click_data,

    -- ---- clicks_*: VLE clicks dated <= P; NULL when has_click_data is false ----
    case when has_click_data then coalesce(clicks_total, 0) end                    as clicks_total,
    case when has_click_data then coalesce(clicks_active_days, 0) end              as clicks_active_days,
    {%- for t in main_activity_types() %}
    case when has_click_data then coalesce(clicks_{{ t }}, 0) end                  as clicks_{{ t }},
    {%- endfor %}
    case when has_click_data then coalesce(clicks_other, 0) end                    as clicks_other,
    case when has_click_data then coalesce(clicks_before_start, 0) end             as clicks_before_start,
    case when has_click_data then coalesce(clicks_first_half, 0) end               as clicks_first_half,
    case when has_click_data then coalesce(clicks_second_half, 0) end              as clicks_second_half,
    -- Trend: log((second half + 1) / (first half + 1)); > 0 = rising, < 0 = falling.
    case when has_click_data then
        round(ln((coalesce(clicks_second_half, 0) + 1.0) / (coalesce(clicks_first_half, 0) + 1.0)), 4)
    end                                                                            as clicks_trend_log_ratio,
    case when has_click_data then coalesce(clicks_last_7_days, 0) end              as clicks_last_7_days,
    case when has_click_data then coalesce(clicks_prev_7_days, 0) end              as clicks_prev_7_days,
    case when has_click_data then
        coalesce(clicks_last_7_days, 0) - coalesce(clicks_prev_7_days, 0)
    end                                                                            as clicks_week_over_week_change,
    case when has_click_data then coalesce(clicks_active_days_last_7_days, 0) end  as clicks_active_days_last_7_days,
    case when has_click_data then clicks_first_active_day end                      as clicks_first_active_day,
    -- Recency: P - last active day (NULL when never active by P; see clicks_total = 0).
    case when has_click_data then {{ p }} - clicks_last_active_day end             as clicks_days_since_last_active,
    -- Percent rank (0..1) of clicks_total within the presentation's day-P population.
    case when has_click_data then
        round(percent_rank() over (partition by module_presentation_id order by coalesce(clicks_total, 0)), 4)
    end                                                                            as clicks_total_percentile,

    -- ---- assess_*: assessments due by P and submissions dated <= P ----
    coalesce(assess_due_count, 0)                                                  as assess_due_count,
    coalesce(assess_due_submitted_count, 0)                                        as assess_due_submitted_count,
    coalesce(assess_due_count, 0) - coalesce(assess_due_submitted_count, 0)        as assess_missed_count,
    coalesce(assess_submitted_count, 0)                                            as assess_submitted_count,
    coalesce(assess_banked_count, 0)                                               as assess_banked_count,
    coalesce(assess_late_count, 0)                                                 as assess_late_count,
    coalesce(assess_failed_count, 0)                                               as assess_failed_count,
    round(assess_mean_score, 2)                                                    as assess_mean_score,
    round(assess_weighted_score, 2)                                                as assess_weighted_score,
    coalesce(assess_submitted_ahead_count, 0)                                      as assess_submitted_ahead_count,
    round(assess_mean_days_early, 2)                                               as assess_mean_days_early,
    assess_min_days_early,
    assess_max_score,
    assess_min_score,
    assess_first_submitted_day,
    round(assess_score_z_mean, 4)                                                  as assess_score_z_mean,
    round(assess_days_after_cohort_median, 2)                                      as assess_days_after_cohort_median,

    -- ---- reg_*: registration facts ----
    registration_day                                                               as reg_registration_day,
    case when registration_day is not null then registration_day > 0 end           as reg_registered_after_start,
    -- Registration day minus the median registration day of the cohort registered by day P.
    registration_day - cohort_median_registration_day                              as reg_days_after_cohort_median,
    num_of_prev_attempts                                                           as reg_num_of_prev_attempts,
    studied_credits                                                                as reg_studied_credits,

    -- ---- demo_*: demographics ----
    gender                                                                         as demo_gender,
    region                                                                         as demo_region,
    highest_education                                                              as demo_highest_education,
    imd_band                                                                       as demo_imd_band,
    age_band                                                                       as demo_age_band,
    disability                                                                     as demo_disability,

    -- ---- load_*: the student's other modules in the same presentation, as of day P ----
    coalesce(load_other_modules_registered, 0)                                     as load_other_modules_registered,
    coalesce(load_other_modules_enrolled, 0)                                       as load_other_modules_enrolled,
    coalesce(load_other_modules_unregistered, 0)                                   as load_other_modules_unregistered,

    -- ---- prior_*: presentations that had certainly ended before this one's day P ----
    coalesce(prior_attempts_ended, 0)                                              as prior_attempts_ended,
    coalesce(prior_same_module_attempts_ended, 0)                                  as prior_same_module_attempts_ended,
    coalesce(prior_withdrawn_count, 0)                                             as prior_withdrawn_count,
    coalesce(prior_failed_count, 0)                                                as prior_failed_count,
    coalesce(prior_passed_count, 0)                                                as prior_passed_count,
    coalesce(prior_module_presentations_ended, 0)                                  as prior_module_presentations_ended,
    prior_module_withdrawal_rate,

    -- ---- cohort_*: the presentation's cohort as of day P ----
    cohort_registered_by_day_p,
    cohort_unregistered_share_by_day_p,

    -- ---- target ----
    -- Withdrew after day P: unregistered after P, or final_result Withdrawn without an unregistration day.
    cast({{ withdrew_after_day(p, 'target_unregistration_day', 'target_final_result') }} as integer)
                                                                                   as withdrew_after_day_30
from joined
