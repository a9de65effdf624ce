-- One row per VLE resource (site).
with source as (

    select * from {{ source('oulad', 'vle') }}

),

renamed as (

    select
        id_site,
        {{ module_presentation_id() }} as module_presentation_id,
        code_module,
        code_presentation,
        activity_type,
        week_from,
        week_to

    from source

)

select * from renamed
