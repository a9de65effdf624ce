{#- VLE activity types that get their own click column; all others are summed into *_other. -#}
{% macro main_activity_types() -%}
    {{ return(['forumng', 'homepage', 'oucontent', 'subpage', 'quiz', 'resource', 'url']) }}
{%- endmacro %}

{#- The same types as a SQL list: ('forumng', 'homepage', ...). -#}
{% macro main_activity_types_sql() -%}
    ('{{ main_activity_types() | join("', '") }}')
{%- endmacro %}

{#- Stable text key of a module-presentation, e.g. 'AAA_2013J'. -#}
{% macro module_presentation_id(code_module='code_module', code_presentation='code_presentation') -%}
    ({{ code_module }} || '_' || {{ code_presentation }})
{%- endmacro %}

{#- Stable text key of a student-module attempt, e.g. 'AAA_2013J_11391'. -#}
{% macro student_module_id(code_module='code_module', code_presentation='code_presentation', id_student='id_student') -%}
    ({{ code_module }} || '_' || {{ code_presentation }} || '_' || cast({{ id_student }} as string))
{%- endmacro %}

{#- Course week of a course day: week 1 = days 0..6, week 0 = days -7..-1, week -1 = days -14..-8, ... -#}
{% macro course_week(day_column) -%}
    (cast(floor({{ day_column }} / 7.0) as integer) + 1)
{%- endmacro %}

{#-
    True when the relation exists in the warehouse. Singular tests that read several marts use it
    to check only the marts that were built, so that a partial build (e.g. `dbt build -s +model`
    on a fresh warehouse) does not fail on marts that were not selected.
-#}
{% macro relation_exists(relation) -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(load_relation(relation) is not none) }}
{%- endmacro %}

{#- Day-P population rule: the attempt is enrolled on course day `p` (registered by then, not yet
    unregistered). An unknown registration day counts as registered. -#}
{% macro is_enrolled_on_day(p, registration_day='registration_day', unregistration_day='unregistration_day') -%}
    (({{ registration_day }} is null or {{ registration_day }} <= {{ p }})
     and ({{ unregistration_day }} is null or {{ unregistration_day }} > {{ p }}))
{%- endmacro %}

{#- Day-P target rule: withdrew after day `p` (unregistered after p, or Withdrawn without a date). -#}
{% macro withdrew_after_day(p, unregistration_day='unregistration_day', final_result='final_result') -%}
    (coalesce({{ unregistration_day }} > {{ p }}, false)
     or ({{ final_result }} = 'Withdrawn' and {{ unregistration_day }} is null))
{%- endmacro %}

{#- The checkpoints of the term: course days P at which withdrawal risk is predicted (var checkpoints,
    laip.yaml domain.checkpoints). Sorted, distinct, positive, and including var prediction_day (the default
    checkpoint). -#}
{% macro checkpoints() -%}
    {%- set days = var('checkpoints') -%}
    {%- if days is string or days is number -%}
        {%- set days = [days] -%}
    {%- endif -%}
    {%- set days = days | map('int') | unique | sort | list -%}
    {%- if not days or days[0] < 0 or (var('prediction_day') | int) not in days -%}
        {{ exceptions.raise_compiler_error(
            "var checkpoints must be non-negative course days that include prediction_day "
            ~ var('prediction_day') ~ ", got " ~ var('checkpoints')) }}
    {%- endif -%}
    {{ return(days) }}
{%- endmacro %}

{#- The checkpoints as a relation with one column, prediction_day (one row per checkpoint). -#}
{% macro checkpoint_days() -%}
    select prediction_day
    from (values {% for p in checkpoints() %}({{ p }}){{ ', ' if not loop.last }}{% endfor %}) as checkpoint_days (prediction_day)
{%- endmacro %}
