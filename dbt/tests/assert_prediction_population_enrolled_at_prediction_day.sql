-- The day-P prediction population (P = var prediction_day) must be exactly the attempts still
-- enrolled on day P: nobody unregistered on or before P, nobody registered after P, and nobody
-- who is enrolled on day P left out.
{% set p = var('prediction_day') %}

with attempts as (

    select * from {{ ref('int_student_attempts_joined') }}

),

features as (

    select student_module_id from {{ ref('mart_withdrawal_prediction_features') }}

),

wrongly_included as (

    select
        attempts.student_module_id,
        'unregistered on or before day P or registered after P' as problem
    from features
    inner join attempts on features.student_module_id = attempts.student_module_id
    where
        attempts.unregistration_day <= {{ p }}
        or attempts.registration_day > {{ p }}

),

wrongly_excluded as (

    select
        attempts.student_module_id,
        'enrolled on day P but missing' as problem
    from attempts
    anti join features on attempts.student_module_id = features.student_module_id
    where
        (attempts.registration_day is null or attempts.registration_day <= {{ p }})
        and (attempts.unregistration_day is null or attempts.unregistration_day > {{ p }})

)

select * from wrongly_included
union all
select * from wrongly_excluded
