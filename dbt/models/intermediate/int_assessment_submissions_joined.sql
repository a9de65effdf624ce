-- One row per assessment submission, joined to its assessment (type, weight, due day) and
-- module-presentation, with timeliness and pass flags.

with submissions as (

    select * from {{ ref('stg_oulad__student_assessment') }}

),

assessments as (

    select * from {{ ref('stg_oulad__assessments') }}

),

courses as (

    select
        module_presentation_id,
        module_presentation_length
    from {{ ref('stg_oulad__courses') }}

),

joined as (

    select
        submissions.assessment_submission_id,
        {{ student_module_id('assessments.code_module', 'assessments.code_presentation', 'submissions.id_student') }}
            as student_module_id,
        assessments.module_presentation_id,
        assessments.code_module,
        assessments.code_presentation,
        submissions.id_student,
        submissions.id_assessment,
        assessments.assessment_type,
        assessments.is_exam,
        assessments.weight,
        assessments.due_day,
        -- Exams without a due day are held at the end of the presentation.
        coalesce(assessments.due_day, courses.module_presentation_length) as effective_due_day,
        submissions.submitted_day,
        submissions.is_banked,
        submissions.score
    from submissions
    inner join assessments on submissions.id_assessment = assessments.id_assessment
    left join courses on assessments.module_presentation_id = courses.module_presentation_id

)

select
    *,
    not is_exam as is_coursework,
    -- Timeliness is not defined for banked results (carried over from an earlier presentation).
    case when not is_banked then effective_due_day - submitted_day end as days_early,
    case when not is_banked then submitted_day > effective_due_day end as is_late,
    -- OU pass mark: 40.
    case when score is not null then score >= 40 end as is_pass
from joined
