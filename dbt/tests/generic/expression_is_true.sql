{#-
    Fails for rows where `expression` is false. Rows where it is NULL pass (use coalesce in the
    expression when NULL should fail). `where` narrows the rows checked.
-#}
{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}
