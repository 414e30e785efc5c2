-- The orders experiment measures count, one row per order: completed (purchases, revenue) and
-- returned (the guardrail); cancelled orders are in no measure. The one place both the
-- per-user measures and the daily sequential view read orders from.
select
    order_id,
    customer_id,
    ordered_at,
    is_completed,
    order_status = 'returned'       as is_returned,
    order_total
from {{ ref('int_orders') }}
where is_completed or order_status = 'returned'
