-- One row per customer with at least one order in the window: purchase history summary.
-- Revenue = sum of completed order totals (cancelled/returned orders are excluded).
select
    customer_id,
    min(ordered_at) filter (where is_completed)                         as first_order_at,
    max(ordered_at) filter (where is_completed)                         as last_order_at,
    count(*) filter (where is_completed)                                as completed_orders,
    count(*) filter (where order_status = 'cancelled')                  as cancelled_orders,
    count(*) filter (where order_status = 'returned')                   as returned_orders,
    coalesce(sum(order_total) filter (where is_completed), 0)           as revenue,
    coalesce(sum(discount_total) filter (where is_completed), 0)        as discount_total,
    coalesce(sum(units) filter (where is_completed), 0)                 as units
from {{ ref('int_orders') }}
group by customer_id
