-- One row per raw file of the last load, with the date the files are an export as of (NULL: a finished history).
with source as (

    select * from {{ source('laip_meta', 'load_manifest') }}

),

renamed as (

    select
        file_name,
        table_name,
        sha256,
        loaded_at,
        as_of_date

    from source

)

select * from renamed
