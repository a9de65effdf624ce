{#-
    Where DuckDB's and Spark SQL's dialects differ, models call these macros; each dispatches to the active
    adapter's implementation (`adapter.dispatch`: duckdb__*, spark__*, then default__*). The DuckDB implementations
    are the SQL the project used before it ran on Spark, so the DuckDB build stays byte-for-byte the same.
-#}

{#- True when the whole of `value` matches the regular expression `pattern` (a SQL string literal). -#}
{% macro regexp_full_match(value, pattern) -%}
    {{ return(adapter.dispatch('regexp_full_match', 'laip')(value, pattern)) }}
{%- endmacro %}

{% macro default__regexp_full_match(value, pattern) -%}
    regexp_full_match({{ value }}, {{ pattern }})
{%- endmacro %}

{#- Java's regex: anchored at ^ and \z (the very end: `$` would also match before a final newline). -#}
{% macro spark__regexp_full_match(value, pattern) -%}
    regexp_like({{ value }}, concat('^(?:', {{ pattern }}, ')\\z'))
{%- endmacro %}

{#- Whole days from date `start` to date `end` (an integer; negative when `end` is earlier). -#}
{% macro days_between(start, end) -%}
    {{ return(adapter.dispatch('days_between', 'laip')(start, end)) }}
{%- endmacro %}

{% macro default__days_between(start, end) -%}
    ({{ end }} - {{ start }})
{%- endmacro %}

{% macro spark__days_between(start, end) -%}
    datediff({{ end }}, {{ start }})
{%- endmacro %}

{#- The date `days` days after date `day`. -#}
{% macro add_days(day, days) -%}
    {{ return(adapter.dispatch('add_days', 'laip')(day, days)) }}
{%- endmacro %}

{% macro default__add_days(day, days) -%}
    ({{ day }} + {{ days }})
{%- endmacro %}

{% macro spark__add_days(day, days) -%}
    date_add({{ day }}, {{ days }})
{%- endmacro %}

{#- The materialization of the incremental facts (macros/incremental_partitions.sql). On Spark they are tables
    rebuilt in full: Spark's Parquet tables have no DELETE, which the partition-by-partition refresh needs (a Delta or
    Iceberg table format would allow it with MERGE; docs/scaling.md). -#}
{% macro incremental_fact_materialization() -%}
    {{ return(adapter.dispatch('incremental_fact_materialization', 'laip')()) }}
{%- endmacro %}

{% macro default__incremental_fact_materialization() -%}
    {{ return('incremental') }}
{%- endmacro %}

{% macro spark__incremental_fact_materialization() -%}
    {{ return('table') }}
{%- endmacro %}

{#- A generator of the whole numbers `first`..`last` (both included; none when `first` > `last` or either is NULL),
    one row each: use it as a column of a select (one output row per number), as DuckDB's unnest and Spark's explode
    are. -#}
{% macro integer_series(first, last) -%}
    {{ return(adapter.dispatch('integer_series', 'laip')(first, last)) }}
{%- endmacro %}

{% macro default__integer_series(first, last) -%}
    unnest(generate_series({{ first }}, {{ last }}))
{%- endmacro %}

{% macro spark__integer_series(first, last) -%}
    explode(case when {{ first }} <= {{ last }} then sequence(cast({{ first }} as bigint), cast({{ last }} as bigint)) end)
{%- endmacro %}

{#- Every column of the relation `alias` except `columns` (names without the alias). -#}
{% macro star_except(alias, columns) -%}
    {{ return(adapter.dispatch('star_except', 'laip')(alias, columns)) }}
{%- endmacro %}

{% macro default__star_except(alias, columns) -%}
    {{ alias }}.* exclude ({% for c in columns %}{{ alias }}.{{ c }}{{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}

{% macro spark__star_except(alias, columns) -%}
    {{ alias }}.* except ({% for c in columns %}{{ alias }}.{{ c }}{{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}

{#- `value` (a double) rounded to `digits` decimals as DuckDB rounds a double: half away from zero on the binary value
    times 10^digits. Spark's round takes the double's shortest decimal text instead, so a value such as -1.38295 (in
    binary just above it) rounds differently there; the Spark implementation repeats DuckDB's arithmetic. -#}
{% macro round_double(value, digits) -%}
    {{ return(adapter.dispatch('round_double', 'laip')(value, digits)) }}
{%- endmacro %}

{% macro default__round_double(value, digits) -%}
    round({{ value }}, {{ digits }})
{%- endmacro %}

{% macro spark__round_double(value, digits) -%}
    (sign({{ value }}) * (
        floor(abs(({{ value }}) * power(10, {{ digits }})))
        + case
            when abs(({{ value }}) * power(10, {{ digits }})) - floor(abs(({{ value }}) * power(10, {{ digits }}))) >= 0.5
                then 1
            else 0
        end
    ) / power(10, {{ digits }}))
{%- endmacro %}
