-- risk_signal_count must equal the number of TRUE signals, signals_evaluated the number of
-- non-NULL signals, and risk_band must follow from risk_signal_count and the band thresholds.
{% set signals = [
    'signal_low_engagement', 'signal_low_early_engagement', 'signal_missed_first_assessment',
    'signal_missed_assessments', 'signal_late_submissions', 'signal_low_scores',
    'signal_late_registration'
] %}
{% set count_terms = [] %}
{% set evaluated_terms = [] %}
{% for s in signals %}
{% do count_terms.append('(case when ' ~ s ~ ' then 1 else 0 end)') %}
{% do evaluated_terms.append('(case when ' ~ s ~ ' is not null then 1 else 0 end)') %}
{% endfor %}

with recomputed as (

    select
        student_module_id,
        risk_signal_count,
        signals_evaluated,
        risk_band,
        {{ count_terms | join(' + ') }} as expected_count,
        {{ evaluated_terms | join(' + ') }} as expected_evaluated
    from {{ ref('mart_student_success_features') }}

),

checked as (

    select
        *,
        case
            when expected_count >= {{ var('risk_band_high_min_signals') }} then 'high'
            when expected_count >= {{ var('risk_band_medium_min_signals') }} then 'medium'
            else 'low'
        end as expected_band
    from recomputed

)

select *
from checked
where
    risk_signal_count != expected_count
    or signals_evaluated != expected_evaluated
    or risk_band != expected_band
