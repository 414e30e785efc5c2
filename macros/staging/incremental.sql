{#- Incremental staging for the append-only raw tables (events, orders, order_items).

    The raw contract is one file per table holding the whole history, re-exported every day. A
    base model configured with incremental_staging_config() re-reads only the rows of its window:
    a raw row whose window timestamp is null (it is quarantined anyway) or not earlier than the
    window start = (the latest non-future timestamp already loaded) - var staging_lookback_days.
    Loaded rows before the window start stay, except the ones whose answer can change with the new
    rows; quarantine() re-checks them (see there): every stored row sharing a key with a window row
    (duplicate_id ranks are recomputed over old and new rows together), every orphan_fk row (its
    parent may have arrived) and every row on either side of a suspicious_value bound (the bound
    is a quantile over all rows). The strategy below then deletes the window and the re-checked
    keys from the table and inserts the recomputed rows, in one transaction, and proves the result
    holds exactly the raw file's rows (count and the sum of raw_row_hash): a row older than the
    window that was added, changed or removed in the export fails the model loudly, rolled back,
    naming `dbt build --full-refresh`. What it cannot see cheaply is a parent (customer, product,
    order) that disappears from its raw file; the relationships tests on stg_* fail then.
    The first run and --full-refresh build from scratch with the same SQL as before.
-#}

{#- The config of an incremental base model: window_column is the (typed) timestamp that orders
    the raw table's rows in time; window_parent (order_items, which has no timestamp) a dict
    {model, key, column}: the row's window time is column of the parent row with that key. -#}
{% macro incremental_staging_config(table_name, key, window_column=none, window_parent=none) -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='staging_window',
        unique_key=key,
        on_schema_change='fail',
        meta={'staging_raw_table': table_name, 'staging_window_column': window_column,
              'staging_window_parent': window_parent},
    ) }}
{%- endmacro %}

{% macro staging_lookback_days() -%}
    {%- set days = var('staging_lookback_days') -%}
    {%- if days is not number or days < 0 or days != days | int -%}
        {{ exceptions.raise_compiler_error("var staging_lookback_days must be a whole number of days >= 0, got: " ~ days) }}
    {%- endif -%}
    {{- return(days | int) -}}
{%- endmacro %}

{#- The window of this incremental run, or none (first run, --full-refresh: build everything).
    {start: a timestamp literal, predicate(relation alias or '') -> SQL}. Computed from the stored
    table only, so the model's SQL and the strategy (which runs before anything is deleted) get
    the same start. -#}
{% macro staging_window(relation=this) -%}
    {%- if not (execute and is_incremental()) -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set column = config.get('meta', {}).get('staging_window_column') -%}
    {%- set parent = config.get('meta', {}).get('staging_window_parent') -%}
    {%- if parent -%}
        {%- set parent = {'relation': ref(parent.model), 'key': parent.key, 'column': parent.column} -%}
        {%- set timed = "(select p." ~ parent.column ~ " as window_time from " ~ relation ~ " as t join " ~ parent.relation
            ~ " as p on p." ~ parent.key ~ " = t." ~ parent.key ~ " where p.rejected_reason is distinct from 'future_timestamp')" -%}
    {%- else -%}
        {%- set timed = "(select " ~ column ~ " as window_time from " ~ relation ~ " where rejected_reason is distinct from 'future_timestamp')" -%}
    {%- endif -%}
    {%- set start = run_query(
        "select cast(coalesce(max(window_time) - to_days(" ~ staging_lookback_days() ~ "), timestamp '-infinity') as varchar) from "
        ~ timed).columns[0].values()[0] -%}
    {{- return({'start': start, 'column': column, 'parent': parent}) -}}
{%- endmacro %}

{#- true for the rows of the window (alias: the relation's alias in the query). A row whose parent
    is unknown (order_items of an order that is not loaded) is always in the window. -#}
{% macro staging_in_window(window, alias) -%}
    {%- if window.parent -%}
    not exists (
        select 1 from {{ window.parent.relation }} as _window_parent
        where _window_parent.{{ window.parent.key }} = {{ alias }}.{{ window.parent.key }}
          and _window_parent.{{ window.parent.column }} < timestamp '{{ window.start }}')
    {%- else -%}
    ({{ alias }}.{{ window.column }} is null or {{ alias }}.{{ window.column }} >= timestamp '{{ window.start }}')
    {%- endif -%}
{%- endmacro %}

{#- A cheap superset of the window on the raw file, before any parsing: rows whose raw timestamp
    is a native TIMESTAMP(TZ) safely before the window start (2 days: any source_timezone offset)
    are skipped. Text timestamps (CSV) are not prefiltered; the exact window test follows typing. -#}
{% macro staging_raw_prefilter(window, raw_type) -%}
    {%- if window.parent or window.start == '-infinity' or not (raw_type | upper).startswith('TIMESTAMP') -%}
    true
    {%- else -%}
    not coalesce({{ window.column }} between timestamp '1000-01-01' and timestamp '{{ window.start }}' - interval 2 day, false)
    {%- endif -%}
{%- endmacro %}

{#- Fingerprint of a raw row as read (every contract column, before any cleaning). -#}
{% macro raw_row_hash(columns) -%}
    hash({{ columns | join(', ') }})
{%- endmacro %}

{#- Custom incremental strategy (config incremental_strategy='staging_window'). -#}
{% macro get_incremental_staging_window_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set temp = arg_dict['temp_relation'] -%}
    {%- set key = arg_dict['unique_key'] -%}
    {%- set key = [key] if key is string else key -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | join(', ') -%}
    {%- set window = staging_window(target) -%}
    {%- set table_name = config.get('meta', {}).get('staging_raw_table') -%}
    {%- set contract = raw_table_contract(table_name) -%}
    {%- set reader = raw_table_reader(table_name) -%}
    {{ log(model.name ~ ": incremental load of the window from " ~ window.start ~ " (var staging_lookback_days = " ~ staging_lookback_days() ~ ")", info=true) }}
{%- if window.column %}
{#- Stored timestamps were typed with var source_timezone: re-typing a sample of them (before any
    is replaced) must agree. -#}
select case when count(*) > 0 then error('{{ model.name }}: stored {{ window.column }} values differ from their raw text read with var source_timezone = '
    || '{{ var("source_timezone") }}: the var changed since they were loaded. Rebuild it: dbt build --full-refresh -s {{ model.name }}+') end
from (select {{ window.column }}, {{ window.column }}__raw from {{ target }} where {{ window.column }}__raw is not null limit 1000) as sample
where {{ utc_timestamp(window.column ~ '__raw') }} is distinct from {{ window.column }};
{%- endif %}

{#- Stored rows re-checked outside the window (usually none: the key scan is skipped then). -#}
{%- set revisited = run_query("select count(*) from " ~ temp ~ " as r where not (" ~ staging_in_window(window, 'r') ~ ")").columns[0].values()[0] %}
delete from {{ target }} as t
where {{ staging_in_window(window, 't') }}
{%- if revisited > 0 %}
   or ({{ key | join(', ') }}) in (
        select ({{ key | join(', ') }}) from {{ temp }} as r where not ({{ staging_in_window(window, 'r') }}))
{%- endif %};

insert into {{ target }} ({{ columns }})
select {{ columns }} from {{ temp }};


{#- The table must now hold exactly the raw file's rows. -#}
select case when loaded.rows <> raw.rows or loaded.fingerprint is distinct from raw.fingerprint then error(
    '{{ model.name }}: after the incremental load the table has ' || loaded.rows || ' rows but the raw file '
    || raw.rows || ' (or the same count with different content): rows loaded before ' || '{{ window.start }}'
    || ' (the window of var staging_lookback_days = {{ staging_lookback_days() }}) were added, changed or removed in the export. '
    || 'Rebuild it: dbt build --full-refresh -s {{ model.name }}+ (or raise staging_lookback_days for late data).') end
from (select count(*) as rows, sum(raw_row_hash) as fingerprint from {{ target }}) as loaded,
     {%- if reader %}
     (select count(*) as rows, sum({{ raw_row_hash(contract.columns) }}) as fingerprint from {{ reader }}) as raw
     {%- else %}
     (select 0 as rows, null as fingerprint) as raw
     {%- endif %}
{%- endmacro %}
