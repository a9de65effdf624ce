-- Recompute a few day-P features straight from staging with "event day <= P" and compare:
-- a click or a submission after day P must not change any feature.
{% set p = var('prediction_day') %}

with features as (

    select * from {{ ref('mart_withdrawal_prediction_features') }}

),

clicks as (

    select
        student_module_id,
        sum(clicks) as clicks_total,
        count(distinct click_day) as active_days
    from {{ ref('stg_oulad__student_vle') }}
    where click_day <= {{ p }}
    group by student_module_id

),

submissions as (

    select
        {{ student_module_id('a.code_module', 'a.code_presentation', 's.id_student') }} as student_module_id,
        count(*) filter (where not s.is_banked) as submitted,
        avg(s.score) as mean_score
    from {{ ref('stg_oulad__student_assessment') }} as s
    inner join {{ ref('stg_oulad__assessments') }} as a on s.id_assessment = a.id_assessment
    where s.submitted_day <= {{ p }}
    group by all

)

select features.student_module_id
from features
left join clicks on features.student_module_id = clicks.student_module_id
left join submissions on features.student_module_id = submissions.student_module_id
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
