-- One row per valid (order, product). Rows failing a check are in stg_shop__order_items_rejected.
select
    order_id,
    product_id,
    quantity,
    unit_price,
    quantity * unit_price as line_total
from {{ ref('base_shop__order_items') }}
where rejected_reason is null
