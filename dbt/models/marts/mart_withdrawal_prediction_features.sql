-- Features for predicting withdrawal at every checkpoint P of the term (var checkpoints; the default
-- checkpoint var prediction_day = 30). One row per student-module attempt and checkpoint P at which the
-- attempt is still enrolled (int_student_attempts_enrolled_at_day_p):
--   (registration_day is null or registration_day <= P) and (unregistration_day is null or unregistration_day > P)
--
-- Leakage rule: every feature column of a row uses only events dated on or before its day P (clicks with
-- click_day <= P, submissions with submitted_day <= P, assessments due on or before P), plus facts
-- known at registration (demographics, previous attempts, credits, registration day), plus final
-- results of presentations that had certainly ENDED before this presentation's day P
-- (int_presentations_calendar_estimated). Each feature family is one int_*_at_day_p model that
-- obeys this rule; this mart only joins them on (student_module_id, prediction_day). Unregistration after P
-- and this attempt's final_result enter ONLY the target column.
--
-- Families (column prefixes, as in ml/config.yaml):
--   clicks_*  VLE clicks; NULL, never 0, when has_click_data is false    int_student_clicks_at_day_p
--   assess_*  assessments                                                 int_student_assessments_at_day_p
--   reg_*     registration                                                int_student_registration_at_day_p
--   demo_*    demographics                                                int_student_demographics_at_day_p
--   load_*    the student's other modules in the same presentation        int_student_study_load_at_day_p
--   prior_*   earlier, ended presentations of the student and the module  int_student_prior_presentations_at_day_p
--   cohort_*  the presentation's cohort as of day P                       int_module_presentation_cohort_at_day_p

with population as (

    select * from {{ ref('int_student_attempts_enrolled_at_day_p') }}

),

clicks as (

    select * from {{ ref('int_student_clicks_at_day_p') }}

),

assessments as (

    select * from {{ ref('int_student_assessments_at_day_p') }}

),

registration as (

    select * from {{ ref('int_student_registration_at_day_p') }}

),

demographics as (

    select * from {{ ref('int_student_demographics_at_day_p') }}

),

study_load as (

    select * from {{ ref('int_student_study_load_at_day_p') }}

),

prior_presentations as (

    select * from {{ ref('int_student_prior_presentations_at_day_p') }}

),

cohort as (

    select * from {{ ref('int_module_presentation_cohort_at_day_p') }}

),

-- Target inputs only (never features): what happened after day P.
outcomes as (

    select
        student_module_id,
        unregistration_day,
        final_result
    from {{ ref('int_student_attempts_joined') }}

)

{#- The keys of the families, and the partition bookkeeping of the incremental ones (clicks, assessments): not
    features. #}
{%- set keys = ['student_module_id', 'prediction_day'] %}
{%- set incremental_keys = keys + ['module_presentation_id', 'partition_digest', 'partition_built_at'] %}
select
    -- keys
    population.student_module_id,
    population.code_module,
    population.code_presentation,
    population.id_student,
    population.module_presentation_id,
    population.presentation_year,
    population.presentation_semester,
    population.prediction_day,
    population.has_click_data,
    -- features: every column of each family; the enforced contract (yml) fixes their names, types and order
    {{ star_except('clicks', incremental_keys) }},  -- noqa: AM04
    {{ star_except('assessments', incremental_keys) }},
    {{ star_except('registration', keys) }},
    {{ star_except('demographics', keys) }},
    {{ star_except('study_load', keys) }},
    {{ star_except('prior_presentations', keys) }},
    cohort.cohort_registered_by_day_p,
    cohort.cohort_unregistered_share_by_day_p,
    -- ---- target ----
    -- Withdrew after day P: unregistered after P, or final_result Withdrawn without an unregistration day.
    -- NULL (no label yet) while the presentation runs: a live export has no final_result before the end.
    case
        when outcomes.final_result is not null
            then cast(
                {{ withdrew_after_day(
                    'population.prediction_day', 'outcomes.unregistration_day', 'outcomes.final_result'
                ) }}
                as integer
            )
    end as withdrew_after_prediction_day
from population
left join clicks
    on
        population.student_module_id = clicks.student_module_id
        and population.prediction_day = clicks.prediction_day
left join assessments
    on
        population.student_module_id = assessments.student_module_id
        and population.prediction_day = assessments.prediction_day
left join registration
    on
        population.student_module_id = registration.student_module_id
        and population.prediction_day = registration.prediction_day
left join demographics
    on
        population.student_module_id = demographics.student_module_id
        and population.prediction_day = demographics.prediction_day
left join study_load
    on
        population.student_module_id = study_load.student_module_id
        and population.prediction_day = study_load.prediction_day
left join prior_presentations
    on
        population.student_module_id = prior_presentations.student_module_id
        and population.prediction_day = prior_presentations.prediction_day
left join cohort
    on
        population.module_presentation_id = cohort.module_presentation_id
        and population.prediction_day = cohort.prediction_day
left join outcomes on population.student_module_id = outcomes.student_module_id
