-- One row per student-module attempt and checkpoint P: the student's other modules in the SAME presentation
-- (same code_presentation, so the same course calendar and the same day P), as known on day P:
-- registered by P, still enrolled on P, or already unregistered by P. Only registration events
-- dated on or before P count.

with attempts as (

    select * from {{ ref('int_student_attempts_joined') }}

),

checkpoints as (

    {{ checkpoint_days() }}

)

select
    current_attempt.student_module_id,
    checkpoints.prediction_day,
    count(other.student_module_id) as load_other_modules_registered,
    count(other.student_module_id) filter (
        where other.unregistration_day is null or other.unregistration_day > checkpoints.prediction_day
    ) as load_other_modules_enrolled,
    count(other.student_module_id) filter (where other.unregistration_day <= checkpoints.prediction_day)
        as load_other_modules_unregistered
from attempts as current_attempt
cross join checkpoints
left join attempts as other
    on
        current_attempt.id_student = other.id_student
        and current_attempt.code_presentation = other.code_presentation
        and current_attempt.student_module_id != other.student_module_id
        and (other.registration_day is null or checkpoints.prediction_day >= other.registration_day)
group by current_attempt.student_module_id, checkpoints.prediction_day
