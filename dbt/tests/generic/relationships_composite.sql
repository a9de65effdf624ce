{#-
    Composite-key version of the built-in `relationships` test: every non-null combination of
    `columns` in the model must exist as a combination of `to_columns` in `to`.
-#}
{% test relationships_composite(model, columns, to, to_columns) %}
with child as (
    select distinct {{ columns | join(', ') }}
    from {{ model }}
    where {% for c in columns %}{{ c }} is not null{% if not loop.last %} and {% endif %}{% endfor %}
),

parent as (
    select distinct
        {% for c in to_columns %}{{ c }} as {{ columns[loop.index0] }}{% if not loop.last %}, {% endif %}{% endfor %}
    from {{ to }}
)

select child.*
from child
anti join parent using ({{ columns | join(', ') }})
{% endtest %}
