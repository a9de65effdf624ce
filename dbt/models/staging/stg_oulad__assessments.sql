-- One row per assessment.
with source as (

    select * from {{ source('oulad', 'assessments') }}

),

renamed as (

    select
        id_assessment,
        {{ module_presentation_id() }} as module_presentation_id,
        code_module,
        code_presentation,
        assessment_type,
        assessment_type = 'Exam' as is_exam,
        date as due_day,
        weight

    from source

)

select * from renamed
