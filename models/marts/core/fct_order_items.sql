-- One row per (order, product) for orders placed up to as_of. Revenue counts completed orders only.
select
    items.order_id,
    items.product_id,
    orders.customer_id,
    orders.ordered_at,
    orders.order_status,
    orders.is_completed,
    cast(items.quantity as bigint)                                                      as quantity,
    cast(items.unit_price as decimal(18, 2))                                            as unit_price,
    cast(items.line_total as decimal(18, 2))                                            as line_total,
    cast(case when orders.is_completed then items.line_total else 0 end as decimal(18, 2)) as revenue,
    cast(products.list_price as decimal(18, 2))                                         as current_list_price
from {{ ref('stg_shop__order_items') }} as items
inner join {{ ref('int_orders') }} as orders
    on items.order_id = orders.order_id
left join {{ ref('stg_shop__products') }} as products
    on items.product_id = products.product_id
