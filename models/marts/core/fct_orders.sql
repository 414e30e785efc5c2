-- One row per order placed up to as_of, any status. revenue is the order total for completed
-- orders and 0 for cancelled / returned ones: sum(revenue) is the shop's completed revenue.
-- The purchase sequence (number, gap to the previous purchase) comes from int_completed_orders.
select
    orders.order_id,
    orders.customer_id,
    customers.acquisition_channel,
    orders.ordered_at,
    orders.order_date,
    orders.order_status,
    orders.is_completed,
    cast(orders.order_total as decimal(18, 2))                                        as order_total,
    cast(orders.discount_total as decimal(18, 2))                                     as discount_total,
    cast(case when orders.is_completed then orders.order_total else 0 end as decimal(18, 2)) as revenue,
    cast(orders.distinct_products as bigint)                                          as distinct_products,
    cast(orders.units as bigint)                                                      as units,
    completed_orders.order_number                                                     as completed_order_number,
    coalesce(completed_orders.is_first_order, false)                                  as is_first_order,
    completed_orders.days_since_previous_order
from {{ ref('int_orders') }} as orders
left join {{ ref('int_completed_orders') }} as completed_orders
    on orders.order_id = completed_orders.order_id
left join {{ ref('stg_shop__customers') }} as customers
    on orders.customer_id = customers.customer_id
