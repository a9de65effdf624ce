{#-
    Incremental facts rebuilt partition by partition (dbt/README.md, "Incremental facts").

    A partition is a slice of a fact keyed by day, e.g. one module-presentation's clicks of one course day. Every
    row stores its partition's digest: the model's code (model_code_digest below), the partition's row count and the
    sum of its rows' hashes. A run recomputes the digests from the source (one cheap aggregate), rebuilds only the
    partitions whose digest is new or differs (delete+insert on the partition key) and deletes the partitions the
    source no longer has. An export that grows by a week therefore rebuilds that week's days; a corrected or
    withdrawn row, an older export loaded after a newer one, or a change to the model's code rebuilds exactly what
    it touches; a full refresh (`dbt build --full-refresh`) rebuilds everything and gives the same table.
-#}

{#- One value per partition that changes when any of its rows (``columns``) or the model's code changes: the digest of
    one input, its own rows (inputs_digest of rows_digest, below). -#}
{% macro partition_digest(columns) -%}
    {{ inputs_digest([rows_digest(columns)]) }}
{%- endmacro %}

{#- Per group: the row count and the sum of the rows' hashes over ``columns``, as one string (an input of
    inputs_digest below). -#}
{% macro rows_digest(columns) -%}
    cast(count(*) as string) || ':' || cast(coalesce(sum(hash({{ columns | join(', ') }})), 0) as string)
{%- endmacro %}

{#- A partition's digest from the digests of its inputs (rows_digest of each, NULL for an input without rows there)
    and the model's code: it changes when any of them does. For models downstream of the facts, whose partition is a
    module-presentation (all its checkpoints) or a course week. -#}
{% macro inputs_digest(parts) -%}
    md5('{{ model_code_digest() }}'{% for part in parts %} || '|' || coalesce({{ part }}, '-'){% endfor %})
{%- endmacro %}

{#- The model's code: the checksum of its SQL file and of every view it reads through (directly or through other
    views: their SQL runs inside its query, e.g. the staging view that builds the keys of the click log), and the text
    of every macro of this project these call, directly or through other macros (e.g. student_click_sums ->
    sum_clicks_where, star_except -> default__star_except), so that editing any of them rebuilds the partitions it
    shaped. Tables upstream count through their rows, which the models digest. dbt's and the adapter's own macros are
    left out: they change only with their pinned versions, and a version bump calls for `dbt build --full-refresh`. -#}
{% macro model_code_digest() -%}
    {%- set texts = [model.unique_id ~ '=' ~ model.checksum.checksum] -%}
    {%- set views = namespace(todo=(model.depends_on.nodes if model.depends_on is defined else []) | list) -%}
    {%- set macros = namespace(todo=(model.depends_on.macros if model.depends_on is defined else []) | list) -%}
    {%- set seen = [] -%}
    {%- for _depth in range(10) -%}
        {%- set found_next = [] -%}
        {%- for uid in views.todo if uid not in seen and uid in graph.nodes -%}
            {%- do seen.append(uid) -%}
            {%- set node = graph.nodes[uid] -%}
            {%- if node.resource_type == 'model' and node.config.materialized in ('view', 'ephemeral') -%}
                {%- do texts.append(uid ~ '=' ~ node.checksum.checksum) -%}
                {%- do found_next.extend(node.depends_on.nodes) -%}
                {%- do macros.todo.extend(node.depends_on.macros) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set views.todo = found_next -%}
    {%- endfor -%}
    {%- for _depth in range(10) -%}
        {%- set found_next = [] -%}
        {%- for uid in macros.todo if uid.startswith('macro.' ~ project_name ~ '.') and uid not in seen -%}
            {%- do seen.append(uid) -%}
            {%- set found = context.get(uid.split('.')[-1]) -%}
            {%- if found is not none and found.macro is defined -%}
                {%- do texts.append(uid ~ '=' ~ found.macro.macro_sql) -%}
                {%- do found_next.extend(found.macro.depends_on.macros) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set macros.todo = found_next -%}
    {%- endfor -%}
    {{- local_md5(texts | sort | join('|')) -}}
{%- endmacro %}

{#- The partitions of ``digests`` (a CTE with the key columns and partition_digest) to (re)build: all of them on a
    first or full-refresh run, otherwise those whose digest the table does not hold yet. -#}
{% macro changed_partitions(digests, keys) -%}
    {%- if is_incremental() %}
    select {% for k in keys %}digests.{{ k }}, {% endfor %}digests.partition_digest
    from {{ digests }} as digests
    left join (select distinct {{ keys | join(', ') }}, partition_digest from {{ this }}) as built
        on {% for k in keys %}digests.{{ k }} = built.{{ k }}{{ ' and ' if not loop.last }}{% endfor %}
        and digests.partition_digest = built.partition_digest
    where built.partition_digest is null
    {%- else %}
    select * from {{ digests }}
    {%- endif %}
{%- endmacro %}

{#- Pre-hook: delete the partitions the source (``source_relation``) no longer has. A no-op on a first or
    full-refresh run. -#}
{% macro delete_vanished_partitions(source_relation, keys) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as built
    where not exists (
        select 1 from {{ source_relation }} as src
        where {% for k in keys %}src.{{ k }} = built.{{ k }}{{ ' and ' if not loop.last }}{% endfor %}
    )
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- delete+insert for the partitioned facts above, overriding dbt-duckdb's: its `delete ... using <new rows>` joins every
    row of a partition to every new row of it (a partition key is not unique per row), quadratic in the partition's
    size; a semi-join (`exists`) deletes each old row once, whatever the number of key columns. -#}
{% macro duckdb__get_delete_insert_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) -%}
    {%- set dest_cols_csv = get_quoted_csv(dest_columns | map(attribute="name")) -%}
    {%- if unique_key %}
        {%- set keys = [unique_key] if unique_key is string else unique_key %}
    delete from {{ target }} as dbt_incremental_target
    where exists (
        select 1 from {{ source }} as dbt_incremental_source
        where
            {%- for key in keys %}
            dbt_incremental_source.{{ key }} = dbt_incremental_target.{{ key }}{{ " and" if not loop.last }}
            {%- endfor %}
    )
        {%- for predicate in incremental_predicates or [] %}
        and {{ predicate }}
        {%- endfor %};
    {%- endif %}

    insert into {{ target }} ({{ dest_cols_csv }})
    (
        select {{ dest_cols_csv }}
        from {{ source }}
    )
{%- endmacro %}
