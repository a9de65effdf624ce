{{ config(
    materialized=incremental_fact_materialization(),
    schema='incremental',
    incremental_strategy='delete+insert',
    unique_key=['id_assessment', 'submitted_day'],
    on_schema_change='fail',
    pre_hook="{{ delete_vanished_partitions(ref('stg_oulad__student_assessment'), ['id_assessment', 'submitted_day']) }}",
) }}
-- One row per assessment submission, joined to its assessment (type, weight, due day) and
-- module-presentation, with timeliness and pass flags.
-- Incremental by partition (assessment, submission day; macros/incremental_partitions.sql): a weekly run joins only
-- the submissions its export added or changed.

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

),

digests as (

    select
        id_assessment,
        submitted_day,
        {{ partition_digest([
            'assessment_submission_id', 'student_module_id', 'module_presentation_id', 'assessment_type', 'weight',
            'due_day', 'effective_due_day', 'is_banked', 'score'
        ]) }} as partition_digest
    from joined
    group by id_assessment, submitted_day

),

changed as (

    {{ changed_partitions('digests', ['id_assessment', 'submitted_day']) }}

)

select
    joined.*,
    not joined.is_exam as is_coursework,
    -- Timeliness is not defined for banked results (carried over from an earlier presentation).
    case when not joined.is_banked then joined.effective_due_day - joined.submitted_day end as days_early,
    case when not joined.is_banked then joined.submitted_day > joined.effective_due_day end as is_late,
    -- OU pass mark: 40.
    case when joined.score is not null then joined.score >= 40 end as is_pass,
    changed.partition_digest,
    current_timestamp as partition_built_at
from joined
inner join changed
    on
        joined.id_assessment = changed.id_assessment
        and joined.submitted_day = changed.submitted_day
