-- One row per assessment submission. The module-presentation comes from the assessment
-- (joined in int_assessment_submissions_joined).
with source as (

    select * from {{ source('oulad', 'student_assessment') }}

),

renamed as (

    select
        cast(id_assessment as string) || '_' || cast(id_student as string) as assessment_submission_id,
        id_assessment,
        id_student,
        date_submitted as submitted_day,
        is_banked = 1 as is_banked,
        score

    from source

)

select * from renamed
