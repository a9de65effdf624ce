{#-
    The click-log coverage rule: the one place where SQL classifies a presentation's click log.
    laip/validate.py applies the same rule in Python to the raw files, and
    tests/integration/test_dbt_coverage_rule.py checks on the committed sample that both agree.
      missing  : the presentation has no click at all
      complete : last click day >= module length - tolerance (var click_log_complete_tolerance_days)
      partial  : the clicks stop earlier
    `tolerance` defaults to the var; the test passes other values to check the boundary.
-#}
{% macro click_coverage_status(
    has_click_log='has_click_log',
    last_click_day='last_click_day',
    module_presentation_length='module_presentation_length',
    tolerance=none
) -%}
    {%- set tolerance = var('click_log_complete_tolerance_days') if tolerance is none else tolerance -%}
    case
        when not {{ has_click_log }} then 'missing'
        when {{ last_click_day }} >= {{ module_presentation_length }} - {{ tolerance }} then 'complete'
        else 'partial'
    end
{%- endmacro %}

{#- Last course day whose clicks are in the log: the module end when complete, the last click day
    when partial, NULL (unknown) when missing. -#}
{% macro click_data_through_day(
    coverage_status='coverage_status',
    last_click_day='last_click_day',
    module_presentation_length='module_presentation_length'
) -%}
    case {{ coverage_status }}
        when 'missing' then null
        when 'complete' then greatest({{ last_click_day }}, {{ module_presentation_length }})
        else {{ last_click_day }}
    end
{%- endmacro %}

{#- True when the presentation's click log covers course day `day` (click measures up to that day are
    known); false when it stops earlier or is missing. -#}
{% macro click_log_covers_day(
    day,
    has_click_log='has_click_log',
    click_data_through_day='click_data_through_day'
) -%}
    ({{ has_click_log }} and {{ click_data_through_day }} >= {{ day }})
{%- endmacro %}
