-- One row per module-presentation and checkpoint P: the cohort as known on day P (registration events dated <= P).

with attempts as (

    select * from {{ ref('int_student_attempts_joined') }}

),

courses as (

    select module_presentation_id from {{ ref('stg_oulad__courses') }}

),

checkpoints as (

    {{ checkpoint_days() }}

),

registered as (

    select
        attempts.module_presentation_id,
        checkpoints.prediction_day,
        count(*) as n_registered,
        count(*) filter (where attempts.unregistration_day <= checkpoints.prediction_day) as n_unregistered,
        median(attempts.registration_day) as median_registration_day
    from attempts
    inner join checkpoints
        on attempts.registration_day is null or attempts.registration_day <= checkpoints.prediction_day
    group by attempts.module_presentation_id, checkpoints.prediction_day

)

select
    courses.module_presentation_id,
    checkpoints.prediction_day,
    coalesce(registered.n_registered, 0) as cohort_registered_by_day_p,
    coalesce(registered.n_unregistered, 0) as cohort_unregistered_by_day_p,
    {{ safe_ratio('registered.n_unregistered', 'registered.n_registered', 4) }}
        as cohort_unregistered_share_by_day_p,
    registered.median_registration_day as cohort_median_registration_day
from courses
cross join checkpoints
left join registered
    on
        courses.module_presentation_id = registered.module_presentation_id
        and checkpoints.prediction_day = registered.prediction_day
