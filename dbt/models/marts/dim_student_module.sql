-- One row per student-module attempt (a student registered on a module-presentation).

with attempts as (

    select * from {{ ref('int_student_attempts_joined') }}

)

select
    student_module_id,
    module_presentation_id,
    code_module,
    code_presentation,
    id_student,
    presentation_year,
    presentation_semester,
    gender,
    region,
    highest_education,
    imd_band,
    age_band,
    disability,
    has_disability,
    num_of_prev_attempts,
    studied_credits,
    registration_day,
    unregistration_day,
    final_result,
    is_withdrawn,
    -- Day the student withdrew; NULL when not withdrawn or when the source has no unregistration day.
    case when is_withdrawn then unregistration_day end as withdrawal_day,
    final_result in ('Pass', 'Distinction', 'Fail') as is_completed,
    final_result in ('Pass', 'Distinction') as is_passed,
    -- Click measures exist for this attempt only when its presentation has a click log.
    has_click_log as has_click_data,
    click_coverage_status,
    click_data_through_day
from attempts
