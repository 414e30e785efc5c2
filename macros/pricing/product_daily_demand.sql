{#- fct_product_daily_demand is incremental by day (issue 16: a daily refresh appends one day of
    raw data). A later build recomputes only the days from
        start = least(the latest stored demand_date, date(as_of)) - var staging_lookback_days
    (late rows inside the staging window are picked up; an earlier as_of, a backtest, drops the
    stored days after it), and first proves that every stored day before start is exactly what a
    full rebuild gives on today's inputs (product_daily_demand_changes). Stored days CAN change
    although raw data is append-only: the incremental staging re-checks old rows (a duplicate id
    that outranks a stored row, an orphan whose customer/product/order arrived, a suspicious_value
    bound), a price spell may be added in the past, a product may change category. When the proof
    fails, the build recomputes every day (logged), so the table always equals a full rebuild.
    The first build and --full-refresh build every day. Strategy day_window (below) deletes the
    stored days from start and inserts the recomputed ones, in one transaction. -#}

{#- The first day to recompute as 'YYYY-MM-DD', or none: every day (first build, --full-refresh,
    an empty table, or a stored day before the window that no longer matches its inputs). -#}
{% macro product_daily_demand_window() -%}
    {%- if not (execute and is_incremental()) -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set start = run_query(
        "select cast(cast(" ~ dbt.dateadd('day', -staging_lookback_days(), 'least(max(demand_date), ' ~ as_of_date() ~ ')')
        ~ " as date) as varchar) from " ~ this).columns[0].values()[0] -%}
    {%- if start is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set changes = run_query(product_daily_demand_changes(start)) -%}
    {%- set changed = [] -%}
    {%- for column in changes.columns if column.values()[0] != 0 -%}
        {%- do changed.append(column.name) -%}
    {%- endfor -%}
    {%- if changed -%}
        {{ log(model.name ~ ": stored days before " ~ start ~ " no longer match their inputs (" ~ changed | join(', ')
               ~ " differ): every day is recomputed", info=true) }}
        {{- return(none) -}}
    {%- endif -%}
    {{ log(model.name ~ ": incremental, days from " ~ start ~ " (var staging_lookback_days = " ~ staging_lookback_days() ~ ")", info=true) }}
    {{- return(start) -}}
{%- endmacro %}

{#- One row, each column 0 when the stored days before `start` equal what the model computes on
    today's inputs. Fingerprints are sums of row hashes, weighted by the stored counts: the
    view/add-to-cart events per (product, day, type); per completed order item (orders, units,
    cents of revenue) per (product, day); the price spell in effect at the end of each change day;
    purchase-only days (a row whose only activity is a purchase event); every stored product's
    category (and that it still is in stg_shop__products, which the model inner-joins).
    The input side reads every row before `start` (all before as_of: start <= date(as_of)) and
    does not drop products missing from stg_shop__products as the model does: staging rejects
    such rows (orphan_fk), and if one got through it would only make a check differ, and the
    build recompute every day (a false alarm costs time, never a wrong row). -#}
{% macro product_daily_demand_changes(start) -%}
{%- set before = "date '" ~ start ~ "'" -%}
with stored as (
    select * from {{ this }} where demand_date < {{ before }}
),

products as (
    select product_id, category from {{ ref('stg_shop__products') }}
),

events as (
    select product_id, cast(occurred_at as date) as demand_date, event_type
    from {{ ref('stg_shop__events') }}
    where occurred_at < cast({{ before }} as {{ dbt.type_timestamp() }}) and product_id is not null
),

sales as (
    select product_id, cast(ordered_at as date) as demand_date, quantity, revenue
    from {{ ref('fct_order_items') }}
    where is_completed and ordered_at < cast({{ before }} as {{ dbt.type_timestamp() }})
),

purchases as (
    select product_id, demand_date from events where event_type = 'purchase'
)

select
    coalesce((
        select sum(cast({{ raw_row_hash(['product_id', 'demand_date', 'event_type']) }} as hugeint))
        from events where event_type in ('view', 'add_to_cart')
    ), 0) - coalesce((
        select sum(cast(views as hugeint) * {{ raw_row_hash(['product_id', 'demand_date', "cast('view' as varchar)"]) }}
            + cast(add_to_carts as hugeint) * {{ raw_row_hash(['product_id', 'demand_date', "cast('add_to_cart' as varchar)"]) }})
        from stored
    ), 0)                                                                   as browsing,
    -- one row per (order, product) (stg_shop__order_items' grain), so a row counts one order
    coalesce((
        select sum(cast({{ raw_row_hash(['product_id', 'demand_date', "cast('orders' as varchar)"]) }} as hugeint)
            + cast(quantity as hugeint) * {{ raw_row_hash(['product_id', 'demand_date', "cast('units' as varchar)"]) }}
            + cast(revenue * 100 as hugeint) * {{ raw_row_hash(['product_id', 'demand_date', "cast('revenue' as varchar)"]) }})
        from sales
    ), 0) - coalesce((
        select sum(cast(orders as hugeint) * {{ raw_row_hash(['product_id', 'demand_date', "cast('orders' as varchar)"]) }}
            + cast(units as hugeint) * {{ raw_row_hash(['product_id', 'demand_date', "cast('units' as varchar)"]) }}
            + cast(round(revenue * 100) as hugeint) * {{ raw_row_hash(['product_id', 'demand_date', "cast('revenue' as varchar)"]) }})
        from stored
    ), 0)                                                                   as sales,
    -- the spell in effect at the end of its start day (a later spell the same day replaces it)
    coalesce((
        select sum(cast({{ raw_row_hash(['product_id', 'valid_from_date', 'list_price', 'is_promotion']) }} as hugeint))
        from {{ ref('int_product_price_spells') }}
        where valid_from_date < {{ before }}
            and (valid_to is null or cast(valid_to as date) > valid_from_date)
    ), 0) - coalesce((
        select sum(cast({{ raw_row_hash(['product_id', 'demand_date', 'list_price', 'is_promotion']) }} as hugeint))
        from stored where has_price_change
    ), 0)                                                                   as price_changes,
    -- a purchase event's day missing, or a day whose only activity is purchases without one
    -- (one full join; several purchases of a day only repeat a row that counts 0 or >= 1 anyway)
    (
        select count(*)
        from purchases
        full outer join (
            select
                product_id,
                demand_date,
                views = 0 and add_to_carts = 0 and orders = 0 and not has_price_change as is_purchase_only
            from stored
        ) as stored_days
            on purchases.product_id = stored_days.product_id and purchases.demand_date = stored_days.demand_date
        where stored_days.product_id is null or (purchases.product_id is null and stored_days.is_purchase_only)
    )                                                                       as purchase_days,
    (
        select count(*)
        from (select distinct product_id, category from stored) as stored_products
        left join products on stored_products.product_id = products.product_id
        where products.product_id is null or products.category is distinct from stored_products.category
    )                                                                       as categories
{%- endmacro %}

{#- Custom incremental strategy (config incremental_strategy='day_window'): delete the stored rows
    from the window start the model's SQL was compiled with (its "day window start:" line; none =
    every row) and insert the recomputed ones. The column is config meta day_window_column. -#}
{% macro get_incremental_day_window_sql(arg_dict) -%}
    {%- set column = config.get('meta', {}).get('day_window_column') -%}
    {%- set found = modules.re.search('day window start: (none|\\d{4}-\\d{2}-\\d{2})', model.compiled_code or '') -%}
    {%- if not column or not found -%}
        {{ exceptions.raise_compiler_error(model.name ~ ": strategy day_window needs config meta day_window_column and a 'day window start:' line in the compiled SQL") }}
    {%- endif -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | join(', ') %}
delete from {{ arg_dict['target_relation'] }}
{%- if found.group(1) != 'none' %}
where {{ column }} >= date '{{ found.group(1) }}'
{%- endif %};

insert into {{ arg_dict['target_relation'] }} ({{ columns }})
select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}
