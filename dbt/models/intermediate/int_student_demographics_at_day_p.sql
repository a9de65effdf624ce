-- demo_* features of the population at each checkpoint P: demographics as recorded at registration.

with population as (

    select * from {{ ref('int_student_attempts_enrolled_at_day_p') }}

),

attempts as (

    select * from {{ ref('int_student_attempts_joined') }}

)

select
    population.student_module_id,
    population.prediction_day,
    attempts.gender as demo_gender,
    attempts.region as demo_region,
    attempts.highest_education as demo_highest_education,
    attempts.imd_band as demo_imd_band,
    attempts.age_band as demo_age_band,
    attempts.disability as demo_disability
from population
inner join attempts on population.student_module_id = attempts.student_module_id
