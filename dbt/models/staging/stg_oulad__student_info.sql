-- One row per student-module attempt: demographics and final result.
with source as (

    select * from {{ source('oulad', 'student_info') }}

),

renamed as (

    select
        {{ student_module_id() }} as student_module_id,
        {{ module_presentation_id() }} as module_presentation_id,
        code_module,
        code_presentation,
        id_student,
        gender,
        region,
        highest_education,
        -- The original release writes '10-20' without the '%' that all other bands have.
        case when imd_band = '10-20' then '10-20%' else imd_band end as imd_band,
        age_band,
        num_of_prev_attempts,
        studied_credits,
        disability,
        disability = 'Y' as has_disability,
        final_result

    from source

)

select * from renamed
