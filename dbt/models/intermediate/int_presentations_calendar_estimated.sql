-- One row per module-presentation with a conservative calendar estimate of when it ran.
-- OULAD gives only the start month (B = February, J = October) and the length in days, not the
-- exact start date. To decide whether an earlier presentation had certainly ENDED before another
-- one's prediction day, take the latest possible end: the last day of the start month + length.
--   start_month_index       = year * 12 + start month - 1   (months since year 0, January = 0)
--   latest_end_month_index  = month index of (last day of the start month + length days)
-- An earlier presentation X may feed features of presentation Y only when
--   X.latest_end_month_index < Y.start_month_index
-- i.e. X ended in a calendar month before the month Y started, so before Y's day 0 and day P.
-- With OULAD's lengths (234..269 days): a B presentation (Feb..Oct) counts for the next year's
-- B and J presentations but NOT for the J presentation of its own year; a J presentation
-- (Oct..Jun/Jul) counts for the next J presentation but NOT for the next B presentation.

with courses as (

    select * from {{ ref('stg_oulad__courses') }}

),

dated as (

    select
        module_presentation_id,
        code_module,
        code_presentation,
        presentation_year,
        presentation_semester,
        module_presentation_length,
        presentation_year * 12 + presentation_start_month - 1                     as start_month_index,
        last_day(make_date(presentation_year, presentation_start_month, 1))
            + module_presentation_length                                          as latest_end_date
    from courses

)

select
    *,
    year(latest_end_date) * 12 + month(latest_end_date) - 1                        as latest_end_month_index
from dated
