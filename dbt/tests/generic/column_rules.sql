{#-
    Every row-level rule of a model's columns in one data test: one scan of the model and one dbt node instead of
    one of each per rule and column (a dbt node costs about as much to run as a small test's query; a project with
    a test per rule and column ran some 370 of them each build). Fails with one row per broken rule: the rule, the
    column (for expression_is_true the expression), how many rows break it and the rule's place in the list. NULLs
    pass every rule but not_null, as in the single tests these rules replace:

      not_null: [col, ...]                       the column is never NULL
      not_negative: [col, ...]                   col >= 0
      between: {col: [min, max], ...}            min <= col <= max (inclusive; bounds may be SQL expressions)
      accepted_values: {col: [v, ...], ...}      col is one of the values (strings quoted, numbers as they are)
      null_when: {col: condition, ...}           col is NULL wherever the condition holds
      matches_pattern: {col: regex, ...}         col fully matches the regular expression
      expression_is_true: [expression, ...]      the expression holds (NULL passes)

    Checks that compare rows (unique, relationships) stay tests of their own.
-#}
{% test column_rules(
    model,
    not_null=[],
    not_negative=[],
    between={},
    accepted_values={},
    null_when={},
    matches_pattern={},
    expression_is_true=[]
) %}
{%- set checks = [] -%}
{%- set refused = "column_rules on " ~ model ~ ": " -%}  {#- the start of each compile error below -#}
{%- for c in not_null -%}
    {%- do checks.append(('not_null', c, c ~ ' is null')) -%}
{%- endfor -%}
{%- for c in not_negative -%}
    {%- do checks.append(('not_negative', c, c ~ ' < 0')) -%}
{%- endfor -%}
{%- for c, bounds in between.items() -%}
    {%- if execute and (bounds is string or bounds | length != 2) -%}
        {%- do exceptions.raise_compiler_error(refused ~ "between " ~ c ~ " needs [min, max]") -%}
    {%- endif -%}
    {%- do checks.append(('between', c, c ~ ' < ' ~ bounds[0] ~ ' or ' ~ c ~ ' > ' ~ bounds[1])) -%}
{%- endfor -%}
{%- for c, values in accepted_values.items() -%}
    {#- only at execution: at parse, a list rendered by a macro ("{{ checkpoints() }}") may still be text -#}
    {%- if execute and (values is string or not values) -%}
        {%- do exceptions.raise_compiler_error(refused ~ "accepted_values " ~ c ~ " lists no value") -%}
    {%- endif -%}
    {%- set listed = [] -%}
    {%- for v in values -%}
        {%- do listed.append(v if v is number else "'" ~ (v | string | replace("'", "''")) ~ "'") -%}
    {%- endfor -%}
    {%- do checks.append(('accepted_values', c, c ~ ' not in (' ~ listed | join(', ') ~ ')')) -%}
{%- endfor -%}
{%- for c, condition in null_when.items() -%}
    {%- do checks.append(('null_when', c, '(' ~ condition ~ ') and ' ~ c ~ ' is not null')) -%}
{%- endfor -%}
{%- for c, pattern in matches_pattern.items() -%}
    {%- set matches = regexp_full_match(c, "'" ~ (pattern | replace("'", "''")) ~ "'") -%}
    {%- do checks.append(('matches_pattern', c, c ~ ' is not null and not ' ~ matches)) -%}
{%- endfor -%}
{%- for expression in expression_is_true -%}
    {%- do checks.append(('expression_is_true', expression, 'not (' ~ expression ~ ')')) -%}
{%- endfor -%}
{%- if not checks -%}
    {%- do exceptions.raise_compiler_error(refused ~ "no rule given") -%}
{%- endif %}
with failing as (
    select
        {% for rule, subject, fails in checks -%}
            sum(case when {{ fails }} then 1 else 0 end) as check_{{ loop.index }}{{ "," if not loop.last }}
        {% endfor %}
    from {{ model }}
)
{% for rule, subject, fails in checks %}
select
    '{{ rule }}' as rule,
    '{{ subject | replace("'", "''") }}' as column_name,
    check_{{ loop.index }} as failing_rows,
    {{ loop.index }} as check_order
from failing
where check_{{ loop.index }} > 0
{% if not loop.last %}union all{% endif %}
{% endfor %}
{% endtest %}
