{#- Quarantine: every raw row either passes staging or lands in a *_rejected model with a
    reason, so raw count = clean count + rejected count by construction.

    A base model builds a `typed` CTE with, for each cast column, the typed value <col> and the
    raw text <col>__raw (see typed_column). `quarantine(...)` appends the checks:
      1. row checks, in the order given (first failure wins, one reason per row);
      2. duplicate keys among rows that passed 1: the first row by content is kept, the rest are
         'duplicate_id' (deterministic: the order never depends on file order);
      3. foreign keys against the CLEAN rows of the parent base model ('orphan_fk'); base models
         only ever read other base models, never stg_* (which read base models).
    Reasons are a small fixed vocabulary (documented in _shop__staging.yml); details name the
    column and the offending value.
-#}

{#- Timestamps go through utc_timestamp (offsets converted, naive values read in
    var('source_timezone')), so every staged timestamp is naive UTC on any machine. -#}
{#- raw_type (raw_column_type): the type the raw file stores the column as. A native, naive
    TIMESTAMP needs no text parsing: native_utc_timestamp gives exactly what utc_timestamp gives
    on its text (parsing it cost ~0.6 us a row: 29M events at 1M customers). -#}
{% macro typed_column(column, data_type, raw_type=none) -%}
    {%- if data_type | lower == dbt.type_timestamp() | lower and (raw_type or '') | upper == 'TIMESTAMP' -%}
    {{ native_utc_timestamp(column) }} as {{ column }},
    {%- elif data_type | lower == dbt.type_timestamp() | lower -%}
    {{ utc_timestamp(column) }} as {{ column }},
    {%- elif data_type | lower == 'date' -%}
    {{ calendar_date(column) }} as {{ column }},
    {%- else -%}
    {{ safe_cast(column, data_type) }} as {{ column }},
    {%- endif %}
    cast({{ column }} as varchar) as {{ column }}__raw
{%- endmacro %}

{#- utc_timestamp of a native naive TIMESTAMP without the round trip through text. Its text is
    'YYYY-MM-DD hh:mm:ss[.ffffff]' (BC dates end the date with ' (BC)'): no offset, no Z/UTC, so
    utc_timestamp takes its last branch and gets the value back, except where the text does not
    start with four digits and a dash: +-infinity and years past 9999 (null). Naive values are
    read in var source_timezone, as there. -#}
{% macro native_utc_timestamp(column) -%}
    {%- set source_tz = var('source_timezone') -%}
    case when isfinite({{ column }}) and {{ column }} < timestamp '10000-01-01' then
        {%- if source_tz | upper == 'UTC' %} {{ column }}
        {%- else %} timezone('UTC', timezone({{ sql_literal(source_tz) }}, {{ column }}))
        {%- endif %} end
{%- endmacro %}

{% macro text_column(column, lower=false) -%}
    {%- set cleaned = "nullif(trim(cast(" ~ column ~ " as varchar)), '')" -%}
    {{ 'lower(' ~ cleaned ~ ')' if lower else cleaned }} as {{ column }}
{%- endmacro %}

{#- Check constructors: each returns {when, reason, detail} for quarantine(). -#}
{% macro check_not_null(column, reason='missing_value') -%}
    {%- do return({'when': column ~ ' is null', 'reason': reason,
                   'detail': "'" ~ column ~ " is null'"}) -%}
{%- endmacro %}

{% macro check_parses(column, type_label) -%}
    {%- do return({'when': column ~ ' is null and ' ~ column ~ '__raw is not null', 'reason': 'unparseable_value',
                   'detail': "'" ~ column ~ " ''' || " ~ column ~ "__raw || ''' is not a valid " ~ type_label ~ "'"}) -%}
{%- endmacro %}

{% macro check_not_negative(column, strictly_positive=false) -%}
    {%- do return({'when': column ~ (' <= 0' if strictly_positive else ' < 0'), 'reason': 'negative_amount',
                   'detail': "'" ~ column ~ " = ' || cast(" ~ column ~ " as varchar) || ' is " ~ ('not positive' if strictly_positive else 'negative') ~ "'"}) -%}
{%- endmacro %}

{#- The one use of the wall clock: a timestamp later than this build cannot be real. -#}
{% macro check_not_future(column) -%}
    {%- do return({'when': column ~ ' > ' ~ utc_now(), 'reason': 'future_timestamp',
                   'detail': "'" ~ column ~ " = ' || cast(" ~ column ~ " as varchar) || ' is after the build time'"}) -%}
{%- endmacro %}

{% macro check_accepted_values(column, values) -%}
    {%- set quoted = [] -%}
    {%- for v in values -%}{%- do quoted.append(sql_literal(v)) -%}{%- endfor -%}
    {#- A missing value is not an accepted one either (null not in (...) is null, not true). -#}
    {%- do return({'when': '(' ~ column ~ ' is null or ' ~ column ~ ' not in (' ~ quoted | join(', ') ~ '))', 'reason': 'invalid_value',
                   'detail': "'" ~ column ~ " = ' || coalesce('''' || " ~ column ~ " || '''', 'null') || ' is not one of " ~ values | join('/') ~ "'"}) -%}
{%- endmacro %}

{% macro check_between(column, min_value, max_value) -%}
    {%- do return({'when': column ~ ' not between ' ~ min_value ~ ' and ' ~ max_value, 'reason': 'invalid_value',
                   'detail': "'" ~ column ~ " = ' || cast(" ~ column ~ " as varchar) || ' is outside " ~ min_value ~ ".." ~ max_value ~ "'"}) -%}
{%- endmacro %}

{#- An amount or quantity no real shop records: above the absolute cap (var cap_var), or more
    than var suspicious_quantile_multiple x the var suspicious_quantile quantile of the column's
    positive values in the same table (robust to the outlier itself). One order of 1e12 would
    otherwise move every customer's CLV, tiers, clusters and actions. The detail names the
    threshold and the var that sets it. -#}
{% macro check_suspicious(column, cap_var, relation='all_typed') -%}
    {%- set cap = var(cap_var) -%}
    {%- set q = var('suspicious_quantile') -%}
    {%- set k = var('suspicious_quantile_multiple') -%}
    {%- for name, value in [(cap_var, cap), ('suspicious_quantile', q), ('suspicious_quantile_multiple', k)] if value is not number -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be a number, got: " ~ value) }}
    {%- endfor -%}
    {#- The bound is a column of quarantine()'s suspicious_bounds CTE, computed once per build (one
        scan for every bound of the table), not a scalar subquery repeated in every expression. -#}
    {%- set bound = '_suspicious_bound_' ~ column -%}
    {%- do return({'when': '(' ~ column ~ ' > ' ~ cap ~ ' or ' ~ column ~ ' > ' ~ bound ~ ')', 'reason': 'suspicious_value',
                   'detail': "case when " ~ column ~ " > " ~ cap ~ " then '" ~ column ~ " = ' || cast(" ~ column ~ " as varchar) || ' is above the cap " ~ cap ~ " (var " ~ cap_var ~ ")'"
                             ~ " else '" ~ column ~ " = ' || cast(" ~ column ~ " as varchar) || ' is more than " ~ k ~ " x the " ~ q ~ " quantile of " ~ column ~ " (' || cast(round(" ~ bound ~ " / " ~ k ~ ", 4) as varchar) || '; vars suspicious_quantile, suspicious_quantile_multiple)' end",
                   'bound': {'name': bound, 'relation': relation,
                             'sql': k ~ " * quantile_cont(" ~ column ~ ", " ~ q ~ ") filter (where " ~ column ~ " > 0)"}}) -%}
{%- endmacro %}

{#- The suspicious_value bounds of a table's checks (check_suspicious), one row: one aggregate
    with a FILTER per bound over each relation they read (all_typed). -#}
{% macro suspicious_bounds_cte(bounds) -%}
{%- if bounds %}

suspicious_bounds as (
    {%- for relation, group in bounds | groupby('relation') %}
    {{ 'select * from' if loop.first else 'cross join' }} (
        select {% for b in group %}{{ b.sql }} as {{ b.name }}{{ ', ' if not loop.last }}{% endfor %}
        from {{ relation }}
    ) as _bounds_{{ loop.index }}
    {%- endfor %}
),
{%- endif %}
{%- endmacro %}

{#- Renders `, row_checked as (...), ... select ...` after a `with ..., typed as (...)` block.
    key: list of key columns (duplicates); columns: the typed columns, which order duplicates so
    the kept row never depends on file order; foreign_keys: list of {column, to (a base_shop__*
    relation: its clean rows are the valid parents), field}.
    window (incremental loads, macros/staging/incremental.sql; none: every row): `typed` holds a
    superset of the window's raw rows; the rows checked are the window's rows plus every stored
    row whose answer can change: a stored row sharing a key with a window row (ranks), an
    orphan_fk row (its parent may have arrived), a row on either side of a suspicious_value bound
    (a quantile over all rows, all_typed), and every stored row sharing a key with one of those.
    The stored rows are `not materialized` (DuckDB would copy them all: they are only scanned); the
    window's rows, and all_typed when suspicious_value bounds read it, are materialized once. -#}
{% macro quarantine(typed, key, columns, checks, foreign_keys=[], window=none) -%}
{%- set bounds = [] -%}
{%- for c in checks if c.get('bound') -%}{%- do bounds.append(c.bound) -%}{%- endfor -%}
{%- set bound_names = bounds | map(attribute='name') | list -%}
{%- set with_bounds = ' cross join suspicious_bounds' if bounds else '' -%}
{%- if window is none %}
, all_typed as not materialized (
    select * from {{ typed }}
),
{{ suspicious_bounds_cte(bounds) }}

candidates as not materialized (
    select * from {{ typed }}
),
{%- else %}
, window_rows as (
    select * from {{ typed }} as w where {{ staging_in_window(window, 'w') }}
),

stored_before_window as not materialized (
    select * exclude (rejected_reason, rejected_detail), rejected_reason as _stored_reason
    from {{ this }} as s where not ({{ staging_in_window(window, 's') }})
),

all_typed as (
    select * from window_rows
    union all by name
    select * exclude (_stored_reason) from stored_before_window
),
{{ suspicious_bounds_cte(bounds) }}

revisited_keys as (
    select {{ key | join(', ') }} from window_rows where {{ key | join(' is not null and ') }} is not null
    union
    select {{ key | join(', ') }} from stored_before_window{{ with_bounds }}
    where _stored_reason in ('orphan_fk', 'suspicious_value')
    {%- for c in checks if c.reason == 'suspicious_value' %}
       or {{ c.when }}
    {%- endfor %}
),

candidates as not materialized (
    select * from window_rows
    union all by name
    select * exclude (_stored_reason) from stored_before_window
    where ({{ key | join(', ') }}) in (select ({{ key | join(', ') }}) from revisited_keys)
),
{%- endif %}

row_checked as (
    select
        *,
        case
        {%- for c in checks %}
            when {{ c.when }} then '{{ c.reason }}'
        {%- endfor %}
        end as _row_reason,
        case
        {%- for c in checks %}
            when {{ c.when }} then {{ c.detail }}
        {%- endfor %}
        end as _row_detail
    from candidates{{ with_bounds }}
),

{#- Only a key read more than once can rank below 1: one grouped pass over the key columns finds
    those keys, the window ranks just their rows, and every other valid row has rank 1 (the same
    ranks as one window over every row, which sorted the whole table with its payload: most of
    base_shop__events' time at 1M customers). Nulls group and match as equal, as in the window. -#}
repeated_keys as (
    select {{ key | join(', ') }} from candidates
    group by {{ key | join(', ') }}
    having count(*) > 1
),

key_ranked as (
    select *, case when _row_reason is null then 1 end as _key_rank
    from row_checked
    where not exists (
        select 1 from repeated_keys
        where {% for k in key %}repeated_keys.{{ k }} is not distinct from row_checked.{{ k }}{{ ' and ' if not loop.last }}{% endfor %})
    union all
    select
        *,
        case when _row_reason is null then
            row_number() over (
                partition by {{ key | join(', ') }}, _row_reason is null
                order by {{ columns | join(' nulls last, ') }} nulls last
            )
        end as _key_rank
    from row_checked
    where exists (
        select 1 from repeated_keys
        where {% for k in key %}repeated_keys.{{ k }} is not distinct from row_checked.{{ k }}{{ ' and ' if not loop.last }}{% endfor %})
)
{%- for fk in foreign_keys %},

fk_parent_{{ loop.index }} as (
    select distinct {{ fk.field }} as _parent_key from {{ fk.to }} where rejected_reason is null
)
{%- endfor %},

checked as (
    select
        key_ranked.*,
        case
            when _row_reason is not null then _row_reason
            when _key_rank > 1 then 'duplicate_id'
            {%- for fk in foreign_keys %}
            when fk_parent_{{ loop.index }}._parent_key is null then 'orphan_fk'
            {%- endfor %}
        end as rejected_reason,
        case
            when _row_reason is not null then _row_detail
            when _key_rank > 1 then 'another row with {{ key | join(", ") }} = ' || concat_ws(', ', {{ key | join(', ') }}) || ' was kept'
            {%- for fk in foreign_keys %}
            when fk_parent_{{ loop.index }}._parent_key is null
                then '{{ fk.column }} = ' || coalesce({{ fk.column }}, 'null') || ' has no valid row in {{ fk.to.identifier | replace('base_shop__', '') }}'
            {%- endfor %}
        end as rejected_detail
    from key_ranked
    {%- for fk in foreign_keys %}
    left join fk_parent_{{ loop.index }}
        on key_ranked.{{ fk.column }} = fk_parent_{{ loop.index }}._parent_key
    {%- endfor %}
)

select * exclude (_row_reason, _row_detail, _key_rank{% for b in bound_names %}, {{ b }}{% endfor %}) from checked
{%- endmacro %}
