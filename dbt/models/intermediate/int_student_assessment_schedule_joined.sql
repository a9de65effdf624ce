{{ config(materialized='table') }}
-- One row per student-module attempt x assessment of its presentation, with the submission if any.
-- "Expected" = the student had not unregistered by the assessment's (effective) due day.
-- Exams are kept but flagged: exam submissions are recorded for only a few presentations in
-- OULAD, so missed-assessment counts use coursework (TMA/CMA) only.

with attempts as (

    select * from {{ ref('int_student_attempts_joined') }}

),

assessments as (

    select * from {{ ref('stg_oulad__assessments') }}

),

submissions as (

    select * from {{ ref('int_assessment_submissions_joined') }}

),

schedule as (

    select
        attempts.student_module_id,
        attempts.module_presentation_id,
        attempts.id_student,
        attempts.unregistration_day,
        assessments.id_assessment,
        assessments.assessment_type,
        assessments.is_exam,
        not assessments.is_exam as is_coursework,
        assessments.weight,
        assessments.due_day,
        coalesce(assessments.due_day, attempts.module_presentation_length) as effective_due_day
    from attempts
    inner join assessments on attempts.module_presentation_id = assessments.module_presentation_id

),

ordered as (

    select
        *,
        -- Position of the coursework assessment in the presentation's schedule (1 = first due).
        case
            when is_coursework then cast(row_number() over (
                partition by student_module_id, is_coursework
                order by effective_due_day, id_assessment
            ) as bigint)
        end as coursework_seq
    from schedule

)

select
    ordered.student_module_id,
    ordered.module_presentation_id,
    ordered.id_student,
    ordered.id_assessment,
    ordered.assessment_type,
    ordered.is_exam,
    ordered.is_coursework,
    ordered.weight,
    ordered.due_day,
    ordered.effective_due_day,
    ordered.coursework_seq,
    coalesce(ordered.coursework_seq = 1, false) as is_first_coursework,
    (
        ordered.unregistration_day is null
        or ordered.unregistration_day > ordered.effective_due_day
    ) as is_expected,
    submissions.assessment_submission_id is not null as is_submitted,
    submissions.submitted_day,
    submissions.is_banked,
    submissions.score,
    submissions.days_early,
    submissions.is_late,
    submissions.is_pass
from ordered
left join submissions
    on
        ordered.student_module_id = submissions.student_module_id
        and ordered.id_assessment = submissions.id_assessment
