-- reg_* features of the population at each checkpoint P: facts known at registration (registration day, previous
-- attempts, credits) and the registration day compared with the cohort registered by day P
-- (int_module_presentation_cohort_at_day_p: registration events dated on or before P only).

with population as (

    select * from {{ ref('int_student_attempts_enrolled_at_day_p') }}

),

attempts as (

    select * from {{ ref('int_student_attempts_joined') }}

),

cohort as (

    select * from {{ ref('int_module_presentation_cohort_at_day_p') }}

)

select
    population.student_module_id,
    population.prediction_day,
    attempts.registration_day as reg_registration_day,
    case when attempts.registration_day is not null then attempts.registration_day > 0 end
        as reg_registered_after_start,
    -- Registration day minus the median registration day of the cohort registered by day P.
    attempts.registration_day - cohort.cohort_median_registration_day as reg_days_after_cohort_median,
    attempts.num_of_prev_attempts as reg_num_of_prev_attempts,
    attempts.studied_credits as reg_studied_credits
from population
inner join attempts on population.student_module_id = attempts.student_module_id
left join cohort
    on
        population.module_presentation_id = cohort.module_presentation_id
        and population.prediction_day = cohort.prediction_day
