-- The population of the withdrawal model: one row per student-module attempt still enrolled on the
-- prediction day P = var('prediction_day'), i.e. registered by P (an unknown registration day counts as
-- registered) and not unregistered on or before P (macro is_enrolled_on_day). That is known on day P:
-- the rule only asks whether an unregistration happened by P, never whether or when one follows.
-- Columns: the keys of the feature mart and whether the presentation's click log covers day P.
{% set p = var('prediction_day') | int %}

with attempts as (

    select * from {{ ref('int_student_attempts_joined') }}

)

select
    student_module_id,
    code_module,
    code_presentation,
    id_student,
    module_presentation_id,
    presentation_year,
    presentation_semester,
    {{ p }} as prediction_day,
    -- The click log covers day P for this presentation (otherwise every clicks_* feature is NULL).
    coalesce({{ click_log_covers_day(p) }}, false) as has_click_data
from attempts
where {{ is_enrolled_on_day(p) }}
