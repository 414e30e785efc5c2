-- One row per valid browsing event. Rows failing a check are in stg_shop__events_rejected.
select
    event_id,
    customer_id,
    session_id,
    event_type,
    product_id,
    occurred_at
from {{ ref('base_shop__events') }}
where rejected_reason is null
