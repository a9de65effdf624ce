-- For every checkpoint P: non-banked submissions dated on or before day P, compared with the cohort's
-- submissions to the same assessment that are ALSO dated on or before day P (nothing later enters the
-- comparison): score z-value and submission day versus the cohort's median submission day.

with checkpoints as (

    {{ checkpoint_days() }}

),

submissions as (

    select
        joined.*,
        checkpoints.prediction_day
    from {{ ref('int_assessment_submissions_joined') }} as joined
    inner join checkpoints on joined.submitted_day <= checkpoints.prediction_day
    where not joined.is_banked

),

compared as (

    select
        assessment_submission_id,
        prediction_day,
        student_module_id,
        module_presentation_id,
        id_assessment,
        submitted_day,
        score,
        avg(score) over cohort as cohort_mean_score,
        stddev_samp(score) over cohort as cohort_sd_score,
        median(submitted_day) over cohort as cohort_median_submitted_day,
        count(*) over cohort as cohort_submissions
    from submissions
    window cohort as (partition by id_assessment, prediction_day)

)

select
    *,
    {{ round_double('(score - cohort_mean_score) / nullif(cohort_sd_score, 0)', 4) }} as score_z,
    submitted_day - cohort_median_submitted_day as days_after_cohort_median
from compared
