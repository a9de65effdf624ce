-- One row per module-presentation: how far into it the loaded data reaches. A finished history (no export date)
-- covers every presentation whole; an export as of a date (a live term, laip/ingest/replay.py) covers a
-- presentation up to that date's course day. Day 0 is the nominal start, the var presentation_start_day of the
-- start month (an assumption, laip.yaml domain.presentation_start_day). The leakage rules never rely on it
-- (int_presentations_calendar_estimated takes the whole month); it decides only which checkpoints a running
-- presentation has reached, its click log's observable end, and that it has no labels yet.

with courses as (

    select * from {{ ref('stg_oulad__courses') }}

),

export as (

    select max(as_of_date) as as_of_date
    from {{ ref('stg_laip_meta__load_manifest') }}

),

dated as (

    select
        courses.module_presentation_id,
        courses.code_module,
        courses.code_presentation,
        courses.module_presentation_length,
        make_date(
            courses.presentation_year, courses.presentation_start_month, {{ var('presentation_start_day') }}
        ) as nominal_start_date,
        export.as_of_date
    from courses
    cross join export

)

select
    *,
    -- The export date's course day (NULL: a finished history, every day observed).
    cast({{ days_between('nominal_start_date', 'as_of_date') }} as integer) as observed_through_day,
    coalesce(as_of_date >= nominal_start_date, true) as is_started,
    -- Ended (results known): the export's day is after the last course day, or a finished history.
    coalesce({{ days_between('nominal_start_date', 'as_of_date') }} > module_presentation_length, true) as is_ended
from dated
