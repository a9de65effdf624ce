-- One row per module-presentation (course run).
with source as (

    select * from {{ source('oulad', 'courses') }}

),

renamed as (

    select
        {{ module_presentation_id() }} as module_presentation_id,
        code_module,
        code_presentation,
        cast(left(code_presentation, 4) as integer) as presentation_year,
        right(code_presentation, 1) as presentation_semester,
        -- 'B' presentations start in February, 'J' presentations in October.
        case right(code_presentation, 1)
            when 'B' then 2
            when 'J' then 10
        end as presentation_start_month,
        module_presentation_length

    from source

)

select * from renamed
