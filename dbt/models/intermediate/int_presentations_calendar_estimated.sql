-- One row per module-presentation and checkpoint P with a conservative calendar estimate of when it ran.
-- OULAD gives only the start month (B = February, J = October) and the length in days, not the
-- exact start date (course day 0). To decide whether an earlier presentation had certainly ENDED
-- before another one's checkpoint day P, compare the latest possible end of the one with the
-- earliest possible day P of the other:
--   earliest_start_date   = first day of the start month
--   latest_end_date       = last day of the start month + length
--   earliest_day_p_date   = earliest_start_date + P
-- An earlier presentation X may feed checkpoint-P features of presentation Y only when
--   X.latest_end_date < Y.earliest_day_p_date
-- i.e. X had certainly ended before Y's day P, whatever the exact start days. With OULAD's lengths
-- (B: 234..241 days, J: 261..269) and P = 30: a B presentation (Feb..Oct) counts for its own
-- year's J presentation (day 30 at the earliest on 31 October) and every later one; a J
-- presentation (Oct..Jun/Jul) counts for the next J but NOT for the next B (day 30 in March).
-- At P = 14 a B presentation does not count for its own year's J (day 14 may be 15 October).

with courses as (

    select * from {{ ref('stg_oulad__courses') }}

),

checkpoints as (

    {{ checkpoint_days() }}

),

dated as (

    select
        module_presentation_id,
        code_module,
        code_presentation,
        presentation_year,
        presentation_semester,
        module_presentation_length,
        make_date(presentation_year, presentation_start_month, 1) as earliest_start_date,
        {{ add_days(
            'last_day(make_date(presentation_year, presentation_start_month, 1))', 'module_presentation_length'
        ) }} as latest_end_date
    from courses

)

select
    dated.*,
    checkpoints.prediction_day,
    {{ add_days('dated.earliest_start_date', 'checkpoints.prediction_day') }} as earliest_day_p_date
from dated
cross join checkpoints
