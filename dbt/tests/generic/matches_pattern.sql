{#- Fails for non-null values that do not fully match the regular expression `pattern`. -#}
{% test matches_pattern(model, column_name, pattern) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and not {{ regexp_full_match(column_name, "'" ~ pattern ~ "'") }}
{% endtest %}
