-- The learning funnel's student_count must never increase from one evaluated stage to the next
-- (stages that cannot be evaluated, e.g. "active early" without click data, are skipped).
with evaluated as (

    select
        module_presentation_id,
        stage_order,
        stage,
        student_count,
        lag(student_count) over (partition by module_presentation_id order by stage_order) as previous_count
    from {{ ref('mart_learning_funnel') }}
    where is_evaluated

)

select *
from evaluated
where student_count > previous_count
