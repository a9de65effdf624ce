-- A final result is known exactly for the attempts of ended presentations: always in a finished history; in an
-- export as of a date (a live term), empty while the presentation runs (it would be a label from the future) and
-- present once it has ended (int_presentations_observed_by_export). Validation checks the same on the raw files
-- (laip/ingest/live_export.py).

with attempts as (

    select * from {{ ref('stg_oulad__student_info') }}

),

observed as (

    select * from {{ ref('int_presentations_observed_by_export') }}

)

select
    attempts.student_module_id,
    attempts.final_result,
    observed.observed_through_day,
    observed.is_ended
from attempts
inner join observed on attempts.module_presentation_id = observed.module_presentation_id
where (attempts.final_result is null) = observed.is_ended
