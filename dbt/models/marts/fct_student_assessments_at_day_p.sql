{{ config(materialized='table') }}
-- The per-student drill-down's assessments, as known on day P = var('prediction_day'): one row per
-- attempt of the day-P population per assessment due on or before P (submitted by P or not), plus
-- each submission dated by P to an assessment not yet due (working ahead; its due day is left out,
-- as in the features). Scores and submission days only of submissions dated on or before P; the
-- cohort (the presentation's day-P population) is compared on its submissions dated by P too.
{% set p = var('prediction_day') | int %}

with population as (

    select * from {{ ref('int_student_attempts_enrolled_at_day_p') }}
    where prediction_day = {{ p }}

),

assessments as (

    select * from {{ ref('stg_oulad__assessments') }}

),

submissions as (

    select * from {{ ref('int_assessment_submissions_joined') }}
    where submitted_day <= {{ p }}

),

due_rows as (

    select
        population.student_module_id,
        assessments.id_assessment,
        assessments.due_day
    from population
    inner join assessments
        on population.module_presentation_id = assessments.module_presentation_id
    where
        assessments.due_day is not null
        and assessments.due_day <= {{ p }}

),

ahead_rows as (

    select
        submissions.student_module_id,
        submissions.id_assessment,
        cast(null as integer) as due_day
    from submissions
    inner join population on submissions.student_module_id = population.student_module_id
    where submissions.due_day is null or submissions.due_day > {{ p }}

),

attempt_assessments as (

    select * from due_rows
    union all
    select * from ahead_rows

),

joined as (

    select
        population.student_module_id,
        population.module_presentation_id,
        population.code_module,
        population.code_presentation,
        population.id_student,
        attempt_assessments.id_assessment,
        assessments.assessment_type,
        assessments.weight,
        attempt_assessments.due_day,
        submissions.submitted_day,
        submissions.is_banked,
        submissions.score,
        case
            when submissions.is_banked then 'banked (result of an earlier presentation)'
            when submissions.submitted_day is null then 'not submitted by day {{ p }}'
            when attempt_assessments.due_day is null then 'submitted ahead (due after day {{ p }})'
            when submissions.submitted_day <= attempt_assessments.due_day then 'on time'
            else 'late'
        end as submission_status,
        case
            when not submissions.is_banked then attempt_assessments.due_day - submissions.submitted_day
        end as days_early
    from attempt_assessments
    inner join population on attempt_assessments.student_module_id = population.student_module_id
    inner join assessments on attempt_assessments.id_assessment = assessments.id_assessment
    left join submissions
        on
            attempt_assessments.student_module_id = submissions.student_module_id
            and attempt_assessments.id_assessment = submissions.id_assessment

),

cohort_size as (

    select
        module_presentation_id,
        count(*) as cohort_students
    from population
    group by module_presentation_id

),

cohort as (

    select
        submissions.id_assessment,
        count(*) as cohort_submitted,
        median(submissions.score) as cohort_median_score,
        median(submissions.submitted_day) as cohort_median_submitted_day
    from submissions
    inner join population on submissions.student_module_id = population.student_module_id
    where not submissions.is_banked
    group by submissions.id_assessment

)

select
    joined.student_module_id,
    joined.module_presentation_id,
    joined.code_module,
    joined.code_presentation,
    joined.id_student,
    joined.id_assessment,
    joined.assessment_type,
    joined.weight,
    joined.due_day,
    joined.submitted_day,
    joined.submission_status,
    joined.days_early,
    joined.score,
    cohort_size.cohort_students,
    -- the cohort's figures only for a cohort of at least var(min_group_size) students
    case
        when {{ is_reportable_group('cohort_size.cohort_students') }}
            then round(coalesce(cohort.cohort_submitted, 0) / cohort_size.cohort_students, 3)
    end as cohort_submitted_share,
    case
        when {{ is_reportable_group('cohort.cohort_submitted') }} then round(cohort.cohort_median_score, 1)
    end as cohort_median_score,
    case
        when {{ is_reportable_group('cohort.cohort_submitted') }} then round(cohort.cohort_median_submitted_day, 1)
    end as cohort_median_submitted_day
from joined
inner join cohort_size on joined.module_presentation_id = cohort_size.module_presentation_id
left join cohort on joined.id_assessment = cohort.id_assessment
