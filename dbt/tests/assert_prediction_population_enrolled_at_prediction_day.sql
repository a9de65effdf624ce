-- The prediction population of every checkpoint P must be exactly the attempts still enrolled on day P:
-- nobody unregistered on or before P, nobody registered after P, and nobody who is enrolled on day P left
-- out. In an export as of a date, a running presentation's population covers only the checkpoints it has reached
-- (up to presentation_observed_through_day).

with attempts as (

    select * from {{ ref('int_student_attempts_joined') }}

),

checkpoints as (

    {{ checkpoint_days() }}

),

features as (

    select
        student_module_id,
        prediction_day
    from {{ ref('mart_withdrawal_prediction_features') }}

),

wrongly_included as (

    select
        attempts.student_module_id,
        features.prediction_day,
        'unregistered on or before day P, registered after P, or P not reached yet' as problem
    from features
    inner join attempts on features.student_module_id = attempts.student_module_id
    where
        attempts.unregistration_day <= features.prediction_day
        or attempts.registration_day > features.prediction_day
        or attempts.presentation_observed_through_day < features.prediction_day

),

wrongly_excluded as (

    select
        attempts.student_module_id,
        checkpoints.prediction_day,
        'enrolled on day P but missing' as problem
    from attempts
    cross join checkpoints
    anti join features
        on
            attempts.student_module_id = features.student_module_id
            and checkpoints.prediction_day = features.prediction_day
    where
        (attempts.registration_day is null or attempts.registration_day <= checkpoints.prediction_day)
        and (attempts.unregistration_day is null or attempts.unregistration_day > checkpoints.prediction_day)
        and (
            attempts.presentation_observed_through_day is null
            or attempts.presentation_observed_through_day >= checkpoints.prediction_day
        )

)

select * from wrongly_included
union all
select * from wrongly_excluded
