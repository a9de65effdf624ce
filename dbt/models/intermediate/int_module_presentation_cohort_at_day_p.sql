-- One row per module-presentation: the cohort as known on day P (registration events dated <= P).
{% set p = var('prediction_day') %}

with attempts as (

    select * from {{ ref('int_student_attempts_joined') }}

),

courses as (

    select module_presentation_id from {{ ref('stg_oulad__courses') }}

),

registered as (

    select
        module_presentation_id,
        count(*) as n_registered,
        count(*) filter (where unregistration_day <= {{ p }}) as n_unregistered,
        median(registration_day) as median_registration_day
    from attempts
    where registration_day is null or registration_day <= {{ p }}
    group by module_presentation_id

)

select
    courses.module_presentation_id,
    coalesce(registered.n_registered, 0) as cohort_registered_by_day_p,
    coalesce(registered.n_unregistered, 0) as cohort_unregistered_by_day_p,
    {{ safe_ratio('registered.n_unregistered', 'registered.n_registered', 4) }}
        as cohort_unregistered_share_by_day_p,
    registered.median_registration_day as cohort_median_registration_day
from courses
left join registered on courses.module_presentation_id = registered.module_presentation_id
