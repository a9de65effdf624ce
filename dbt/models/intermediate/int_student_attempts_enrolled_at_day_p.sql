{{ config(materialized='table') }}
-- The population of the withdrawal model at every checkpoint: one row per student-module attempt and
-- checkpoint P (macro checkpoint_days, var checkpoints) at which the attempt is still enrolled, i.e. registered
-- by P (an unknown registration day counts as registered) and not unregistered on or before P (macro
-- is_enrolled_on_day). That is known on day P: the rule only asks whether an unregistration happened by P,
-- never whether or when one follows. In an export as of a date (a live term) a running presentation has reached only
-- the checkpoints up to that date's course day (presentation_observed_through_day): later ones have no row yet.
-- Columns: the keys of the feature mart and whether the presentation's click log covers day P.

with attempts as (

    select * from {{ ref('int_student_attempts_joined') }}

),

checkpoints as (

    {{ checkpoint_days() }}

)

select
    attempts.student_module_id,
    attempts.code_module,
    attempts.code_presentation,
    attempts.id_student,
    attempts.module_presentation_id,
    attempts.presentation_year,
    attempts.presentation_semester,
    checkpoints.prediction_day,
    -- The click log covers day P for this presentation (otherwise every clicks_* feature is NULL).
    coalesce({{ click_log_covers_day('checkpoints.prediction_day') }}, false) as has_click_data
from attempts
cross join checkpoints
where
    {{ is_enrolled_on_day('checkpoints.prediction_day') }}
    and (
        attempts.presentation_observed_through_day is null
        or checkpoints.prediction_day <= attempts.presentation_observed_through_day
    )
