-- Orders inside the analysis window (ordered_at <= as_of), with item totals and the position of
-- each completed order in its customer's history. Only COMPLETED orders count as purchases
-- and revenue anywhere in the project; cancelled and returned orders are kept, flagged.
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

select
    *,
    case when is_completed then
        row_number() over (
            partition by customer_id, is_completed order by ordered_at, order_id
        )
    end as completed_order_number,
    case when is_completed then
        lag(ordered_at) over (
            partition by customer_id, is_completed order by ordered_at, order_id
        )
    end as previous_completed_order_at
from joined
