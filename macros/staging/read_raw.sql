{#- Reading the raw exports.

    The raw data contract (tables, columns, which are required) is declared once, in
    models/staging/_shop__sources.yml; these macros read it from the graph, so adding a column
    to the contract is a YAML change. A table's file is <raw_path>/<table>.parquet or .csv.
    A missing required table or column, or a required table with no rows, is a clear error naming
    it; a missing or empty optional table reads as an empty relation with the contract's columns,
    so everything downstream still builds (empty).
-#}

{% macro raw_table_contract(table_name) -%}
    {%- if not execute -%}
        {#- The graph is not populated while dbt parses; nothing is run then. -#}
        {%- do return({'columns': ['*'], 'required': false}) -%}
    {%- endif -%}
    {%- set node = graph.sources.get('source.ecom_growth.shop.' ~ table_name) -%}
    {%- if node is none -%}
        {{ exceptions.raise_compiler_error("No raw table '" ~ table_name ~ "' in the shop source contract (models/staging/_shop__sources.yml).") }}
    {%- endif -%}
    {%- do return({
        'columns': node.columns.keys() | list,
        'required': node.meta.get('required', false) or node.config.get('meta', {}).get('required', false)
    }) -%}
{%- endmacro %}

{#- The reader expression for the table's file, or none when no file exists. -#}
{% macro raw_table_reader(table_name) -%}
    {%- set base = var('raw_path') ~ '/' ~ table_name -%}
    {%- for ext, reader in [
            ('parquet', "read_parquet('" ~ base ~ ".parquet')"),
            ('csv', "read_csv('" ~ base ~ ".csv', header = true, all_varchar = true)")] -%}
        {%- set found = run_query("select count(*) from glob('" ~ base ~ "." ~ ext ~ "')").columns[0].values()[0] -%}
        {%- if found > 0 -%}
            {%- do return(reader) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do return(none) -%}
{%- endmacro %}

{#- The type DuckDB reads a raw column as (e.g. 'TIMESTAMP', 'VARCHAR'), or none (no file, or while
    dbt parses). Lets typed_column skip text parsing for columns the file already types natively. -#}
{% macro raw_column_type(table_name, column) -%}
    {%- if not execute -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- set reader = raw_table_reader(table_name) -%}
    {%- if reader is none -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- set types = run_query("select column_type from (describe select * from " ~ reader ~ ") where lower(column_name) = lower('" ~ column ~ "')").columns[0].values() -%}
    {%- do return(types[0] | upper if types | length > 0 else none) -%}
{%- endmacro %}

{#- select <contract columns> from the raw file (every column kept as the file types it;
    staging casts). row_hash: also raw_row_hash, the fingerprint incremental loads check
    (macros/staging/incremental.sql); window: only a cheap superset of that window's rows. -#}
{% macro read_raw(table_name, row_hash=false, window=none) -%}
    {%- set contract = raw_table_contract(table_name) -%}
    {#- Lineage: the staging model depends on the declared source. -#}
    -- raw source: {{ source('shop', table_name) }}
    {%- if not execute %}
    select {{ contract.columns | join(', ') }} from {{ source('shop', table_name) }}
    {%- else -%}
        {%- set reader = raw_table_reader(table_name) -%}
        {%- if reader is none -%}
            {%- if contract.required -%}
                {{ exceptions.raise_compiler_error(
                    "Required raw table '" ~ table_name ~ "' not found: expected " ~ var('raw_path') ~ "/" ~ table_name
                    ~ ".parquet or .csv. Set var raw_path (or env ECOM_GROWTH_RAW_PATH) to your exports, or run "
                    ~ "`python -m ecom_growth generate` for demo data.") }}
            {%- endif -%}
            {{ log("Optional raw table '" ~ table_name ~ "' not found under " ~ var('raw_path') ~ ": building it empty.", info=true) }}
    select
        {%- for column in contract.columns %}
        cast(null as varchar) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
        {%- if row_hash %}, cast(null as ubigint) as raw_row_hash{% endif %}
    where false
        {%- else -%}
            {%- set present = run_query("select column_name from (describe select * from " ~ reader ~ ")").columns[0].values() | map('lower') | list -%}
            {%- set missing = [] -%}
            {%- for column in contract.columns if column | lower not in present -%}
                {%- do missing.append(column) -%}
            {%- endfor -%}
            {%- if missing -%}
                {{ exceptions.raise_compiler_error(
                    "Raw table '" ~ table_name ~ "' (" ~ reader ~ ") lacks contract column(s): " ~ missing | join(', ')
                    ~ ". Present: " ~ present | join(', ') ~ ".") }}
            {%- endif -%}
            {#- An empty REQUIRED table (a header-only export) cannot give a meaningful build: fail
                here, naming it, instead of letting six downstream tests fail without naming it.
                An empty optional table builds its outputs empty on purpose. -#}
            {%- if contract.required and run_query("select count(*) from (select 1 from " ~ reader ~ " limit 1)").columns[0].values()[0] == 0 -%}
                {{ exceptions.raise_compiler_error(
                    "Required raw table '" ~ table_name ~ "' (" ~ reader ~ ") has no rows. customers, products, orders "
                    ~ "and order_items must each have at least one row; check the shop's export of '" ~ table_name ~ "'.") }}
            {%- endif %}
    select {{ contract.columns | join(', ') }}
        {%- if row_hash %}, {{ raw_row_hash(contract.columns) }} as raw_row_hash{% endif %}
    from {{ reader }}
            {%- if window %}
            {%- set raw_type = (run_query("select column_type from (describe select " ~ window.column ~ " from " ~ reader ~ ")").columns[0].values()[0]) if window.column else '' %}
    where {{ staging_raw_prefilter(window, raw_type) }}
            {%- endif -%}
        {%- endif -%}
    {%- endif %}
{%- endmacro %}
