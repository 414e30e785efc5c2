-- Sparse product x day demand panel up to as_of: a row for every day on which a product sold
-- (completed orders), was viewed or carted, or changed price. A dense grid (50k products x
-- 730 days) would be mostly zeros; fct_product_weekly_demand is the dense panel the models use.
-- Incremental by day: a later build recomputes only the days from `since` after proving the
-- stored days before it unchanged, else every day (macros/pricing/product_daily_demand.sql).
{{ config(materialized='incremental', incremental_strategy='day_window', on_schema_change='fail',
          meta={'day_window_column': 'demand_date'}) }}
{%- set since = product_daily_demand_window() %}
-- day window start: {{ since or 'none' }}
{%- set since_at = "cast(date '" ~ since ~ "' as " ~ dbt.type_timestamp() ~ ")" if since else none %}
with sales as (
    select
        product_id,
        cast(ordered_at as date)                       as demand_date,
        sum(quantity)                                  as units,
        count(distinct order_id)                       as orders,
        -- decimal sum: exact, so the result does not depend on summation order
        cast(sum(revenue) as double)                   as revenue
    from {{ ref('fct_order_items') }}
    where is_completed
    {%- if since %} and ordered_at >= {{ since_at }}{% endif %}
    group by 1, 2
),

browsing as (
    select
        product_id,
        cast(occurred_at as date)                                       as demand_date,
        sum(case when event_type = 'view' then 1 else 0 end)            as views,
        sum(case when event_type = 'add_to_cart' then 1 else 0 end)     as add_to_carts
    from {{ ref('stg_shop__events') }}
    where occurred_at <= {{ as_of() }} and product_id is not null
    {%- if since %} and occurred_at >= {{ since_at }}{% endif %}
    group by 1, 2
),

changes as (
    select distinct product_id, valid_from_date as demand_date
    from {{ ref('int_product_price_spells') }}
    {%- if since %}
    where valid_from_date >= date '{{ since }}'
    {%- endif %}
),

activity as (
    select product_id, demand_date, units, orders, revenue, null as views, null as add_to_carts
    from sales
    union all
    select
        product_id, demand_date, null as units, null as orders, null as revenue, views, add_to_carts
    from browsing
    union all
    select
        product_id, demand_date, null as units, null as orders, null as revenue, null as views,
        null as add_to_carts
    from changes
),

days as (
    -- one row per product and day with any activity, with its sales and browsing measures:
    -- each source has at most one row per product and day, so one aggregate over their union
    -- replaces a distinct union joined back to sales and browsing (two fewer hash joins)
    select
        product_id,
        demand_date,
        max(units)          as units,
        max(orders)         as orders,
        max(revenue)        as revenue,
        max(views)          as views,
        max(add_to_carts)   as add_to_carts
    from activity
    group by 1, 2
),

priced as (
    -- the spell in effect at the end of the day (the last one starting on or before it)
    select
        days.*,
        spells.list_price,
        spells.is_promotion,
        spells.valid_from_date
    from days
    left join {{ ref('int_product_price_spells') }} as spells
        on
            days.product_id = spells.product_id
            and spells.valid_from_date <= days.demand_date
            and (spells.valid_to is null or cast(spells.valid_to as date) > days.demand_date)
)

select
    priced.product_id,
    products.category,
    priced.demand_date,
    cast({{ dbt.date_trunc('week', 'priced.demand_date') }} as date)              as week_start,
    cast(coalesce(priced.units, 0) as bigint)                                     as units,
    cast(coalesce(priced.orders, 0) as bigint)                                    as orders,
    cast(coalesce(priced.revenue, 0) as double)                                   as revenue,
    cast(priced.list_price as double)                                             as list_price,
    cast(priced.revenue / nullif(priced.units, 0) as double)                      as realised_unit_price,
    priced.is_promotion,
    coalesce(priced.valid_from_date = priced.demand_date, false)                  as has_price_change,
    cast(
        {{ dbt.datediff('priced.valid_from_date', 'priced.demand_date', 'day') }} as bigint
    )                                                                             as days_since_price_change,
    cast(coalesce(priced.views, 0) as bigint)                                     as views,
    cast(coalesce(priced.add_to_carts, 0) as bigint)                              as add_to_carts
from priced
inner join {{ ref('stg_shop__products') }} as products
    on priced.product_id = products.product_id
