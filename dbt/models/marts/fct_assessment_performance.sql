-- One row per assessment: submissions, scores, pass and late rates.

with schedule as (

    select * from {{ ref('int_student_assessment_schedule_joined') }}

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

per_assessment as (

    select
        id_assessment,
        min(coursework_seq) as coursework_seq,
        count(*) filter (where is_expected) as n_students_expected,
        count(*) filter (where is_submitted) as n_submitted,
        count(*) filter (where is_submitted and is_expected) as n_submitted_expected,
        count(*) filter (where is_banked) as n_banked,
        count(*) filter (where is_submitted and not is_banked) as n_submitted_not_banked,
        count(score) as n_scored,
        avg(score) as mean_score,
        median(score) as median_score,
        avg(case when is_pass then 1 when not is_pass then 0 end) as pass_rate,
        count(*) filter (where is_late) as n_late,
        avg(case when is_late then 1 when not is_late then 0 end) as late_rate,
        avg(days_early) as mean_days_early
    from schedule
    group by id_assessment

)

select
    assessments.id_assessment,
    assessments.module_presentation_id,
    assessments.code_module,
    assessments.code_presentation,
    assessments.assessment_type,
    assessments.is_exam,
    assessments.due_day,
    coalesce(assessments.due_day, courses.module_presentation_length) as effective_due_day,
    assessments.weight,
    p.coursework_seq,
    coalesce(p.n_students_expected, 0) as n_students_expected,
    coalesce(p.n_submitted, 0) as n_submitted,
    coalesce(p.n_banked, 0) as n_banked,
    coalesce(p.n_scored, 0) as n_scored,
    {{ round_double('p.mean_score', 2) }} as mean_score,
    p.median_score,
    {{ round_double('p.pass_rate', 4) }} as pass_rate,
    coalesce(p.n_late, 0) as n_late,
    {{ round_double('p.late_rate', 4) }} as late_rate,
    {{ round_double('p.mean_days_early', 2) }} as mean_days_early,
    {{ safe_ratio('p.n_submitted_expected', 'p.n_students_expected', 4) }} as submission_rate,
    -- BI shows score statistics only for groups of at least var(min_group_size) scored submissions.
    {{ is_reportable_group('p.n_scored') }} as is_reportable
from assessments
left join courses on assessments.module_presentation_id = courses.module_presentation_id
left join per_assessment as p on assessments.id_assessment = p.id_assessment
