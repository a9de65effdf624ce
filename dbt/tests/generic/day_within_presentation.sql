{#-
    Fails for rows whose course day (the column) lies outside its module-presentation:
    before -event_days_before_start or after module_presentation_length + event_days_after_end
    (vars, from laip.yaml domain; the same bound validation applies). NULLs pass. The model needs
    module_presentation_id.
-#}
{% test day_within_presentation(model, column_name) %}
select
    m.module_presentation_id,
    m.{{ column_name }} as day,
    c.module_presentation_length
from {{ model }} as m
inner join {{ ref('stg_oulad__courses') }} as c
    on m.module_presentation_id = c.module_presentation_id
where
    m.{{ column_name }} < -{{ var('event_days_before_start') }}
    or m.{{ column_name }} > c.module_presentation_length + {{ var('event_days_after_end') }}
{% endtest %}
