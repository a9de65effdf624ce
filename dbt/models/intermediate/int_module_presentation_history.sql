-- One row per module-presentation and checkpoint P: outcomes of the SAME module's earlier presentations
-- that had certainly ended before this one's day P (see int_presentations_calendar_estimated), measured
-- with the prediction problem's own population and target at the same checkpoint: of the attempts enrolled
-- on day P of those presentations, the share that withdrew after day P. NULL when there is no such presentation.

with attempts as (

    select * from {{ ref('int_student_attempts_joined') }}

),

calendar as (

    select * from {{ ref('int_presentations_calendar_estimated') }}

),

checkpoints as (

    {{ checkpoint_days() }}

),

day_p_population as (

    select
        attempts.module_presentation_id,
        checkpoints.prediction_day,
        cast({{ withdrew_after_day('checkpoints.prediction_day') }} as integer) as withdrew_after_day_p
    from attempts
    cross join checkpoints
    where {{ is_enrolled_on_day('checkpoints.prediction_day') }}

),

per_presentation as (

    select
        module_presentation_id,
        prediction_day,
        count(*) as n_enrolled_on_day_p,
        sum(withdrew_after_day_p) as n_withdrew_after_day_p
    from day_p_population
    group by module_presentation_id, prediction_day

)

select
    current_presentation.module_presentation_id,
    current_presentation.prediction_day,
    count(earlier.module_presentation_id) as prior_module_presentations_ended,
    coalesce(sum(per_presentation.n_enrolled_on_day_p), 0) as prior_module_enrolled_on_day_p,
    {{ safe_ratio('sum(per_presentation.n_withdrew_after_day_p)', 'sum(per_presentation.n_enrolled_on_day_p)', 4) }}
        as prior_module_withdrawal_rate
from calendar as current_presentation
left join calendar as earlier
    on
        current_presentation.code_module = earlier.code_module
        and current_presentation.prediction_day = earlier.prediction_day
        and current_presentation.earliest_day_p_date > earlier.latest_end_date
left join per_presentation
    on
        earlier.module_presentation_id = per_presentation.module_presentation_id
        and earlier.prediction_day = per_presentation.prediction_day
group by current_presentation.module_presentation_id, current_presentation.prediction_day
