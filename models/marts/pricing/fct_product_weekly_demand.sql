-- Dense product x week panel (Monday weeks) for products with a price history and at least one
-- completed sale: every week from the product's first price spell to the last complete week
-- before as_of, zeros included (demand models need the weeks without sales). The price is the
-- one in effect at the start of the week; has_price_change marks weeks in which it changed.
with bounds as (
    select cast({{ dbt.date_trunc('week', as_of_date()) }} as date) as current_week_start
),

weeks as (
    -- the calendar of weeks with any completed order (a shop without a single order in a week
    -- is not a shop a weekly demand model can serve)
    select distinct cast({{ dbt.date_trunc('week', 'order_date') }} as date) as week_start
    from {{ ref('int_completed_orders') }}
),

products as (
    select
        spells.product_id,
        cast({{ dbt.date_trunc('week', 'min(spells.valid_from_date)') }} as date) as first_week_start
    from {{ ref('int_product_price_spells') }} as spells
    where spells.product_id in (
        select daily.product_id
        from {{ ref('fct_product_daily_demand') }} as daily
        where daily.units > 0
    )
    group by 1
),

grid as (
    select products.product_id, weeks.week_start
    from products
    cross join weeks
    cross join bounds
    where weeks.week_start >= products.first_week_start
      and weeks.week_start < bounds.current_week_start
),

weekly as (
    select
        product_id,
        week_start,
        sum(units)                                        as units,
        sum(orders)                                       as orders,
        -- back to exact cents before summing: the total does not depend on summation order
        cast(sum(cast(revenue as decimal(18, 2))) as double) as revenue,
        sum(views)                                        as views,
        sum(add_to_carts)                                 as add_to_carts,
        max(case when has_price_change then 1 else 0 end) as has_price_change
    from {{ ref('fct_product_daily_demand') }}
    group by 1, 2
),

priced as (
    select
        grid.product_id,
        grid.week_start,
        spells.list_price,
        spells.is_promotion
    from grid
    inner join {{ ref('int_product_price_spells') }} as spells
        on
            grid.product_id = spells.product_id
            and spells.valid_from_date <= grid.week_start
            and (spells.valid_to is null or cast(spells.valid_to as date) > grid.week_start)
)

select
    priced.product_id,
    catalogue.category,
    priced.week_start,
    cast(coalesce(weekly.units, 0) as bigint)                           as units,
    cast(coalesce(weekly.orders, 0) as bigint)                          as orders,
    cast(coalesce(weekly.revenue, 0) as double)                         as revenue,
    cast(priced.list_price as double)                                   as list_price,
    cast(weekly.revenue / nullif(weekly.units, 0) as double)            as realised_unit_price,
    priced.is_promotion,
    coalesce(weekly.has_price_change = 1, false)                        as has_price_change,
    cast(coalesce(weekly.views, 0) as bigint)                           as views,
    cast(coalesce(weekly.add_to_carts, 0) as bigint)                    as add_to_carts
from priced
inner join {{ ref('stg_shop__products') }} as catalogue
    on priced.product_id = catalogue.product_id
left join weekly
    on priced.product_id = weekly.product_id and priced.week_start = weekly.week_start
