-- prior_* features of the population at each checkpoint P: final results of presentations that had certainly ENDED
-- before this presentation's day P (int_presentations_calendar_estimated), of the student
-- (int_student_attempt_history) and of the module (int_module_presentation_history). Counts are 0 and
-- the module's withdrawal rate is NULL when there is no such presentation.

with population as (

    select * from {{ ref('int_student_attempts_enrolled_at_day_p') }}

),

student_history as (

    select * from {{ ref('int_student_attempt_history') }}

),

module_history as (

    select * from {{ ref('int_module_presentation_history') }}

)

select
    population.student_module_id,
    population.prediction_day,
    coalesce(student_history.prior_attempts_ended, 0) as prior_attempts_ended,
    coalesce(student_history.prior_same_module_attempts_ended, 0) as prior_same_module_attempts_ended,
    coalesce(student_history.prior_withdrawn_count, 0) as prior_withdrawn_count,
    coalesce(student_history.prior_failed_count, 0) as prior_failed_count,
    coalesce(student_history.prior_passed_count, 0) as prior_passed_count,
    coalesce(module_history.prior_module_presentations_ended, 0) as prior_module_presentations_ended,
    module_history.prior_module_withdrawal_rate
from population
left join student_history
    on
        population.student_module_id = student_history.student_module_id
        and population.prediction_day = student_history.prediction_day
left join module_history
    on
        population.module_presentation_id = module_history.module_presentation_id
        and population.prediction_day = module_history.prediction_day
