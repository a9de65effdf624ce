-- One row per student-module attempt: registration and unregistration day.
with source as (

    select * from {{ source('oulad', 'student_registration') }}

),

renamed as (

    select
        {{ student_module_id() }} as student_module_id,
        {{ module_presentation_id() }} as module_presentation_id,
        code_module,
        code_presentation,
        id_student,
        date_registration as registration_day,
        date_unregistration as unregistration_day

    from source

)

select * from renamed
