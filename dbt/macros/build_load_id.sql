{#-
    The load a mart was built on. On Spark a post-hook of every mart (dbt_project.yml) records the warehouse's
    current load id as the table property `laip.load_id`: the ML steps' copy of a Spark build
    (laip/spark/serving_copy.py, LOAD_ID_PROPERTY) takes only marts built on the load the warehouse holds now. Writers
    hold the warehouse's lock (laip/locks.py), so no load lands between a mart and its hook. On DuckDB nothing: the
    build's record (meta.build_status) holds its load id, and a load replaces the whole file.
-#}
{% macro record_build_load() -%}
    {{ return(adapter.dispatch('record_build_load', 'laip')()) }}
{%- endmacro %}

{% macro default__record_build_load() -%}{%- endmacro %}

{% macro spark__record_build_load() -%}
    {%- if execute -%}
        {%- set loads = run_query("select max(load_id) from " ~ source('laip_meta', 'load_manifest')) -%}
        alter table {{ this }} set tblproperties ('laip.load_id' = '{{ loads.columns[0].values()[0] }}')
    {%- endif -%}
{%- endmacro %}
