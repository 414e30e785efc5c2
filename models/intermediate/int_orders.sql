-- Orders inside the analysis window (ordered_at <= as_of), any status, with item totals. Only
-- COMPLETED orders count as purchases and revenue anywhere in the project; cancelled and
-- returned orders are kept here, flagged. Purchases and their sequence per customer (order
-- number, previous / next purchase): int_completed_orders.
with orders as (
    select *
    from {{ ref('stg_shop__orders') }}
    where ordered_at <= {{ as_of() }}
),

items as (
    select
        order_id,
        count(*)        as distinct_products,
        sum(quantity)   as units,
        sum(line_total) as items_total
    from {{ ref('stg_shop__order_items') }}
    group by order_id
),

joined as (
    select
        orders.order_id,
        orders.customer_id,
        orders.ordered_at,
        cast(orders.ordered_at as date)                        as order_date,
        orders.order_status,
        orders.order_status = 'completed'                      as is_completed,
        orders.order_total,
        orders.discount_total,
        coalesce(items.distinct_products, 0)                   as distinct_products,
        coalesce(items.units, 0)                               as units,
        coalesce(items.items_total, 0)                         as items_total
    from orders
    left join items on orders.order_id = items.order_id
)

select * from joined
