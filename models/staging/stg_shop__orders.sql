-- One row per valid order, any status. Rows failing a check are in stg_shop__orders_rejected.
select
    order_id,
    customer_id,
    ordered_at,
    status as order_status,
    order_total,
    discount_total
from {{ ref('base_shop__orders') }}
where rejected_reason is null
