{#-
    Fails for rows where `condition` holds and the column is not NULL. Used to check that
    click-based measures are unknown (NULL), never 0, where the click log does not cover them.
-#}
{% test null_when(model, column_name, condition) %}
select {{ column_name }}
from {{ model }}
where ({{ condition }})
  and {{ column_name }} is not null
{% endtest %}
