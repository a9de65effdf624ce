-- Click log: clicks of a student on a VLE resource on a course day.
-- Several rows can share (student, site, day); aggregate with sum().
with source as (

    select * from {{ source('oulad', 'student_vle') }}

),

renamed as (

    select
        {{ student_module_id() }} as student_module_id,
        {{ module_presentation_id() }} as module_presentation_id,
        code_module,
        code_presentation,
        id_student,
        id_site,
        date as click_day,
        sum_click as clicks

    from source

)

select * from renamed
