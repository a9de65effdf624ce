-- One row per student-module attempt: assessment behaviour and results over the presentation.
-- Due / missed counts cover coursework (TMA, CMA) only, because OULAD records exam submissions
-- for only a few presentations. An assessment is "due" for a student who had not unregistered
-- by its due day; "missed" = due and no submission.

with attempts as (

    select
        student_module_id,
        module_presentation_id,
        code_module,
        code_presentation,
        id_student
    from {{ ref('int_student_attempts_joined') }}

),

schedule as (

    select * from {{ ref('int_student_assessment_schedule_joined') }}

),

per_attempt as (

    select
        student_module_id,
        count(*) filter (where is_coursework) as n_assessments_total,
        count(*) filter (where is_coursework and is_expected) as n_assessments_due,
        count(*) filter (where is_coursework and is_submitted) as n_assessments_submitted,
        count(*) filter (where is_coursework and is_expected and not is_submitted) as n_assessments_missed,
        count(*) filter (where is_coursework and is_late) as n_submitted_late,
        -- CMA due days are not binding in several modules (almost every CMA submission there is
        -- after its due day), so TMA lateness is reported separately.
        count(*) filter (where assessment_type = 'TMA' and is_late) as n_tma_submitted_late,
        count(*) filter (where is_coursework and is_banked) as n_banked,
        count(*) filter (where is_coursework and is_pass) as n_passed,
        avg(score) filter (where is_coursework) as avg_score,
        -- Weighted by the assessments' weights (only weighted, scored coursework counts).
        sum(score * weight) filter (where is_coursework and weight > 0)
        / nullif(sum(weight) filter (where is_coursework and weight > 0 and score is not null), 0)
            as weighted_avg_score,
        avg(days_early) filter (where is_coursework) as avg_days_early,
        max(submitted_day) filter (where is_coursework and not is_banked) as last_submitted_day,
        bool_or(is_submitted) filter (where is_first_coursework) as first_assessment_submitted,
        max(score) filter (where is_first_coursework) as first_assessment_score,
        count(*) filter (where assessment_type = 'TMA' and is_expected) as n_tma_due,
        count(*) filter (where assessment_type = 'TMA' and is_submitted) as n_tma_submitted,
        count(*) filter (where assessment_type = 'CMA' and is_expected) as n_cma_due,
        count(*) filter (where assessment_type = 'CMA' and is_submitted) as n_cma_submitted,
        bool_or(is_submitted) filter (where is_exam) as exam_submitted,
        max(score) filter (where is_exam) as exam_score
    from schedule
    group by student_module_id

)

select
    attempts.student_module_id,
    attempts.module_presentation_id,
    attempts.code_module,
    attempts.code_presentation,
    attempts.id_student,
    coalesce(p.n_assessments_total, 0) as n_assessments_total,
    coalesce(p.n_assessments_due, 0) as n_assessments_due,
    coalesce(p.n_assessments_submitted, 0) as n_assessments_submitted,
    coalesce(p.n_assessments_missed, 0) as n_assessments_missed,
    coalesce(p.n_submitted_late, 0) as n_submitted_late,
    coalesce(p.n_tma_submitted_late, 0) as n_tma_submitted_late,
    coalesce(p.n_banked, 0) as n_banked,
    coalesce(p.n_passed, 0) as n_passed,
    {{ round_double('p.avg_score', 2) }} as avg_score,
    {{ round_double('p.weighted_avg_score', 2) }} as weighted_avg_score,
    {{ round_double('p.avg_days_early', 2) }} as avg_days_early,
    p.last_submitted_day,
    p.first_assessment_submitted,
    p.first_assessment_score,
    coalesce(p.n_tma_due, 0) as n_tma_due,
    coalesce(p.n_tma_submitted, 0) as n_tma_submitted,
    coalesce(p.n_cma_due, 0) as n_cma_due,
    coalesce(p.n_cma_submitted, 0) as n_cma_submitted,
    coalesce(p.exam_submitted, false) as exam_submitted,
    p.exam_score
from attempts
left join per_attempt as p on attempts.student_module_id = p.student_module_id
