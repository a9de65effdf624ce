-- One row per student-module attempt: engagement + assessment + demographics + outcome, with
-- rule-based risk signals. The signals DESCRIBE patterns in the record; they are not causes and
-- not predictions. Each signal is TRUE / FALSE, or NULL when its data is unknown (e.g. click-based
-- signals where the presentation has no click log). Thresholds are project vars (dbt_project.yml).

with attempts as (

    select * from {{ ref('dim_student_module') }}

),

engagement as (

    select * from {{ ref('fct_student_engagement_summary') }}

),

assessment as (

    select * from {{ ref('fct_student_assessment_summary') }}

),

joined as (

    select
        attempts.student_module_id,
        attempts.module_presentation_id,
        attempts.code_module,
        attempts.code_presentation,
        attempts.id_student,
        attempts.gender,
        attempts.region,
        attempts.highest_education,
        attempts.imd_band,
        attempts.age_band,
        attempts.disability,
        attempts.num_of_prev_attempts,
        attempts.studied_credits,
        attempts.registration_day,
        attempts.unregistration_day,
        attempts.final_result,
        attempts.is_withdrawn,
        engagement.has_click_data,
        engagement.click_coverage_status,
        engagement.total_clicks,
        engagement.active_days,
        engagement.clicks_first_4_weeks,
        engagement.last_active_day,
        engagement.engagement_percentile,
        engagement.engagement_band,
        assessment.n_assessments_due,
        assessment.n_assessments_submitted,
        assessment.n_assessments_missed,
        assessment.n_submitted_late,
        assessment.n_tma_submitted_late,
        assessment.avg_score,
        assessment.weighted_avg_score,
        assessment.first_assessment_submitted
    from attempts
    left join engagement on attempts.student_module_id = engagement.student_module_id
    left join assessment on attempts.student_module_id = assessment.student_module_id

),

signals as (

    select
        *,

        -- R1 low engagement: total clicks in the bottom tertile of the presentation.
        --    NULL without click data.
        case when has_click_data then engagement_band = 'low' end
            as signal_low_engagement,

        -- R2 low early engagement: fewer than var(risk_min_clicks_first_4_weeks) clicks in course
        --    days 0..27. NULL when the click log does not cover day 27.
        clicks_first_4_weeks < {{ var('risk_min_clicks_first_4_weeks') }}
            as signal_low_early_engagement,

        -- R3 first assessment not submitted: no submission (or banked result) for the presentation's
        --    first coursework assessment (by due day). NULL when the presentation has no coursework.
        not first_assessment_submitted
            as signal_missed_first_assessment,

        -- R4 missed assessments: at least var(risk_min_missed_assessments) coursework assessments
        --    that fell due while registered and were not submitted.
        n_assessments_missed >= {{ var('risk_min_missed_assessments') }}
            as signal_missed_assessments,

        -- R5 late submissions: at least var(risk_min_late_submissions) TMA submissions after the due
        --    day (CMA due days are not binding in several modules, so CMAs do not count).
        n_tma_submitted_late >= {{ var('risk_min_late_submissions') }}
            as signal_late_submissions,

        -- R6 low scores: average coursework score below var(risk_low_score_threshold).
        --    NULL when no coursework was scored.
        avg_score < {{ var('risk_low_score_threshold') }}
            as signal_low_scores,

        -- R7 late registration: registered more than var(risk_late_registration_day) days after the
        --    module start. NULL when the registration day is unknown.
        registration_day > {{ var('risk_late_registration_day') }}
            as signal_late_registration

    from joined

),

{% set signal_columns = [
    'signal_low_engagement',
    'signal_low_early_engagement',
    'signal_missed_first_assessment',
    'signal_missed_assessments',
    'signal_late_submissions',
    'signal_low_scores',
    'signal_late_registration',
] %}

counted as (

    select
        *,
        -- Signals that fired (TRUE); NULL signals do not count.
        {% for s in signal_columns -%}
        coalesce(cast({{ s }} as integer), 0){% if not loop.last %} + {% endif %}
        {%- endfor %} as risk_signal_count,
        -- Signals that could be evaluated (not NULL).
        {% for s in signal_columns -%}
        cast({{ s }} is not null as integer){% if not loop.last %} + {% endif %}
        {%- endfor %} as signals_evaluated
    from signals

)

select
    *,
    case
        when risk_signal_count >= {{ var('risk_band_high_min_signals') }} then 'high'
        when risk_signal_count >= {{ var('risk_band_medium_min_signals') }} then 'medium'
        else 'low'
    end as risk_band
from counted
