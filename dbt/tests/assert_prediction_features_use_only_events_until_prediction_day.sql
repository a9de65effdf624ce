-- Recompute a few features of every checkpoint P straight from staging with "event day <= P" and compare:
-- a click or a submission after day P must not change any feature of checkpoint P.

with features as (

    select * from {{ ref('mart_withdrawal_prediction_features') }}

),

checkpoints as (

    {{ checkpoint_days() }}

),

-- each student's clicks per day first (one row per active day), so that the join with the checkpoints multiplies
-- days, not the log's rows per page
clicks_per_day as (

    select
        student_module_id,
        click_day,
        sum(clicks) as clicks
    from {{ ref('stg_oulad__student_vle') }}
    where click_day <= (select max(checkpoints.prediction_day) as last_day from checkpoints)
    group by student_module_id, click_day

),

clicks as (

    select
        clicks_per_day.student_module_id,
        checkpoints.prediction_day,
        sum(clicks_per_day.clicks) as clicks_total,
        count(*) as active_days
    from clicks_per_day
    inner join checkpoints on clicks_per_day.click_day <= checkpoints.prediction_day
    group by clicks_per_day.student_module_id, checkpoints.prediction_day

),

submissions as (

    select
        {{ student_module_id('a.code_module', 'a.code_presentation', 's.id_student') }} as student_module_id,
        checkpoints.prediction_day,
        count(*) filter (where not s.is_banked) as submitted,
        avg(s.score) as mean_score
    from {{ ref('stg_oulad__student_assessment') }} as s
    inner join {{ ref('stg_oulad__assessments') }} as a on s.id_assessment = a.id_assessment
    inner join checkpoints on s.submitted_day <= checkpoints.prediction_day
    group by all

)

select
    features.student_module_id,
    features.prediction_day
from features
left join clicks
    on
        features.student_module_id = clicks.student_module_id
        and features.prediction_day = clicks.prediction_day
left join submissions
    on
        features.student_module_id = submissions.student_module_id
        and features.prediction_day = submissions.prediction_day
where
    (
        features.has_click_data
        and (
            features.clicks_total != coalesce(clicks.clicks_total, 0)
            or features.clicks_active_days != coalesce(clicks.active_days, 0)
        )
    )
    or features.assess_submitted_count != coalesce(submissions.submitted, 0)
    or abs(coalesce(features.assess_mean_score, -1) - coalesce(round(submissions.mean_score, 2), -1)) > 0.001
