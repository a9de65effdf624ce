{{ config(
    materialized=incremental_fact_materialization(),
    schema='incremental',
    incremental_strategy='delete+insert',
    unique_key=['module_presentation_id'],
    on_schema_change='fail',
    pre_hook="{{ delete_vanished_partitions(
        ref('int_student_attempts_enrolled_at_day_p'), ['module_presentation_id']
    ) }}",
) }}
-- assess_* features of the population at each checkpoint P: assessments due on or before day P and
-- submissions dated on or before P (their score and timing), compared with the cohort's submissions
-- that are also dated on or before P. Nothing about an assessment due after P (not even its due day)
-- enters a feature, except that a submission dated by P counts as working ahead.
-- Incremental by module-presentation (macros/incremental_partitions.sql), like int_student_clicks_at_day_p: a
-- presentation's rows are rebuilt only when its population, its assessments, its submission partitions or its
-- cohort comparison changed, so a weekly run recomputes the running presentations.

with population_digests as (

    select
        module_presentation_id,
        {{ rows_digest(['student_module_id', 'prediction_day']) }} as population_digest
    from {{ ref('int_student_attempts_enrolled_at_day_p') }}
    group by module_presentation_id

),

assessment_digests as (

    select
        module_presentation_id,
        {{ rows_digest(['id_assessment', 'due_day']) }} as assessment_digest
    from {{ ref('stg_oulad__assessments') }}
    group by module_presentation_id

),

submission_digests as (

    -- From the submission partitions' own digests (one per assessment and submission day), not from their rows.
    select
        module_presentation_id,
        {{ rows_digest(['id_assessment', 'submitted_day', 'partition_digest']) }} as submission_digest
    from (
        select distinct
            module_presentation_id,
            id_assessment,
            submitted_day,
            partition_digest
        from {{ ref('int_assessment_submissions_joined') }}
    ) as partitions
    group by module_presentation_id

),

comparison_digests as (

    -- The cohort comparison is a view: its rows (not only its inputs) stand for its SQL too.
    select
        module_presentation_id,
        {{ rows_digest(['assessment_submission_id', 'prediction_day', 'score_z', 'days_after_cohort_median']) }}
            as comparison_digest
    from {{ ref('int_assessment_submissions_compared_to_cohort') }}
    group by module_presentation_id

),

digests as (

    select
        population_digests.module_presentation_id,
        {{ inputs_digest([
            'population_digests.population_digest',
            'assessment_digests.assessment_digest',
            'submission_digests.submission_digest',
            'comparison_digests.comparison_digest',
        ]) }} as partition_digest
    from population_digests
    left join assessment_digests
        on population_digests.module_presentation_id = assessment_digests.module_presentation_id
    left join submission_digests
        on population_digests.module_presentation_id = submission_digests.module_presentation_id
    left join comparison_digests
        on population_digests.module_presentation_id = comparison_digests.module_presentation_id

),

changed as (

    {{ changed_partitions('digests', ['module_presentation_id']) }}

),

population as (

    select
        population.*,
        changed.partition_digest
    from {{ ref('int_student_attempts_enrolled_at_day_p') }} as population
    inner join changed on population.module_presentation_id = changed.module_presentation_id

),

submissions as (

    -- The population's submissions dated on or before its checkpoint P.
    select
        joined.*,
        population.prediction_day
    from {{ ref('int_assessment_submissions_joined') }} as joined
    inner join population
        on
            joined.student_module_id = population.student_module_id
            and joined.submitted_day <= population.prediction_day

),

assessments_due as (

    -- Assessments with a due day (exams without one are never due by P); compared with P below.
    select
        module_presentation_id,
        id_assessment,
        due_day
    from {{ ref('stg_oulad__assessments') }}
    where due_day is not null

),

compared_submissions as (

    select compared.*
    from {{ ref('int_assessment_submissions_compared_to_cohort') }} as compared
    inner join population
        on
            compared.student_module_id = population.student_module_id
            and compared.prediction_day = population.prediction_day

),

due_features as (

    -- Per attempt in the population: assessments due by P and whether each was submitted by P.
    select
        population.student_module_id,
        population.prediction_day,
        count(assessments_due.id_assessment) as due_count,
        count(submissions.assessment_submission_id) as due_submitted_count
    from population
    left join assessments_due
        on
            population.module_presentation_id = assessments_due.module_presentation_id
            and population.prediction_day >= assessments_due.due_day
    left join submissions
        on
            population.student_module_id = submissions.student_module_id
            and population.prediction_day = submissions.prediction_day
            and assessments_due.id_assessment = submissions.id_assessment
    group by population.student_module_id, population.prediction_day

),

submission_features as (

    select
        student_module_id,
        prediction_day,
        count(*) filter (where not is_banked) as submitted_count,
        count(*) filter (where is_banked) as banked_count,
        count(*) filter (where is_late) as late_count,
        avg(score) as mean_score,
        sum(score * weight) filter (where weight > 0)
        / nullif(sum(weight) filter (where weight > 0 and score is not null), 0) as weighted_score,
        -- Timeliness only of assessments already due by P, so that nothing about assessments due
        -- after P (not even their due day) enters a feature.
        avg(days_early) filter (where due_day <= prediction_day) as mean_days_early,
        min(days_early) filter (where due_day <= prediction_day) as min_days_early,
        -- Submitted by P although due after P (working ahead).
        count(*) filter (where not is_banked and effective_due_day > prediction_day) as submitted_ahead_count,
        count(*) filter (where score < 40) as failed_count,
        max(score) as max_score,
        min(score) as min_score,
        min(submitted_day) filter (where not is_banked) as first_submitted_day,
        max(submitted_day) filter (where not is_banked) as last_submitted_day
    from submissions
    group by student_module_id, prediction_day

),

due_by_p as (

    -- Per attempt and checkpoint: the assessments due on or before P, the most recent first (ties: the higher id).
    select
        population.student_module_id,
        population.prediction_day,
        assessments_due.id_assessment,
        row_number() over (
            partition by population.student_module_id, population.prediction_day
            order by assessments_due.due_day desc, assessments_due.id_assessment desc
        ) as recency_rank
    from population
    inner join assessments_due
        on
            population.module_presentation_id = assessments_due.module_presentation_id
            and population.prediction_day >= assessments_due.due_day

),

last_due as (

    -- The assessment due most recently on or before P.
    select
        student_module_id,
        prediction_day,
        id_assessment
    from due_by_p
    where recency_rank = 1

),

last_due_features as (

    -- Whether that assessment was submitted by P, and how many days before its deadline (< 0: late).
    select
        last_due.student_module_id,
        last_due.prediction_day,
        submissions.assessment_submission_id is null as last_due_missed,
        case when not submissions.is_banked then submissions.days_early end as last_due_days_early
    from last_due
    left join submissions
        on
            last_due.student_module_id = submissions.student_module_id
            and last_due.prediction_day = submissions.prediction_day
            and last_due.id_assessment = submissions.id_assessment

),

score_trend_features as (

    -- The latest score (by submission day) minus the mean of the earlier ones: NULL with fewer than two scores.
    select
        student_module_id,
        prediction_day,
        max(score) filter (where recency = 1) - avg(score) filter (where recency > 1) as score_trend
    from (
        select
            student_module_id,
            prediction_day,
            score,
            row_number() over (
                partition by student_module_id, prediction_day order by submitted_day desc, id_assessment desc
            ) as recency
        from submissions
        where not is_banked and score is not null
    ) as scored
    group by student_module_id, prediction_day

),

cohort_comparison_features as (

    select
        student_module_id,
        prediction_day,
        -- Summed as exact decimals: a float sum depends on the order of the rows, and its last digit could
        -- flip the rounding below between two builds of the same data. (DuckDB's average of decimals is a double
        -- already; Spark's is a decimal.)
        cast(avg(cast(score_z as decimal(18, 4))) as double) as score_z_mean,
        avg(days_after_cohort_median) as days_after_cohort_median
    from compared_submissions
    group by student_module_id, prediction_day

)

select
    population.student_module_id,
    population.prediction_day,
    coalesce(due_features.due_count, 0) as assess_due_count,
    coalesce(due_features.due_submitted_count, 0) as assess_due_submitted_count,
    coalesce(due_features.due_count, 0) - coalesce(due_features.due_submitted_count, 0) as assess_missed_count,
    coalesce(submission_features.submitted_count, 0) as assess_submitted_count,
    coalesce(submission_features.banked_count, 0) as assess_banked_count,
    coalesce(submission_features.late_count, 0) as assess_late_count,
    coalesce(submission_features.failed_count, 0) as assess_failed_count,
    {{ round_double('submission_features.mean_score', 2) }} as assess_mean_score,
    {{ round_double('submission_features.weighted_score', 2) }} as assess_weighted_score,
    coalesce(submission_features.submitted_ahead_count, 0) as assess_submitted_ahead_count,
    {{ round_double('submission_features.mean_days_early', 2) }} as assess_mean_days_early,
    submission_features.min_days_early as assess_min_days_early,
    submission_features.max_score as assess_max_score,
    submission_features.min_score as assess_min_score,
    submission_features.first_submitted_day as assess_first_submitted_day,
    {{ round_double('cohort_comparison_features.score_z_mean', 4) }} as assess_score_z_mean,
    {{ round_double('cohort_comparison_features.days_after_cohort_median', 2) }} as assess_days_after_cohort_median,
    -- Later in the term: the most recent deadline, the gap since the last submission, the score trend.
    last_due_features.last_due_missed as assess_last_due_missed,
    last_due_features.last_due_days_early as assess_last_due_days_early,
    population.prediction_day - submission_features.last_submitted_day as assess_days_since_last_submission,
    {{ round_double('score_trend_features.score_trend', 2) }} as assess_score_trend,
    population.module_presentation_id,
    population.partition_digest,
    current_timestamp as partition_built_at
from population
left join due_features
    on
        population.student_module_id = due_features.student_module_id
        and population.prediction_day = due_features.prediction_day
left join submission_features
    on
        population.student_module_id = submission_features.student_module_id
        and population.prediction_day = submission_features.prediction_day
left join cohort_comparison_features
    on
        population.student_module_id = cohort_comparison_features.student_module_id
        and population.prediction_day = cohort_comparison_features.prediction_day
left join last_due_features
    on
        population.student_module_id = last_due_features.student_module_id
        and population.prediction_day = last_due_features.prediction_day
left join score_trend_features
    on
        population.student_module_id = score_trend_features.student_module_id
        and population.prediction_day = score_trend_features.prediction_day
