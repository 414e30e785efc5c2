-- One row per valid (campaign, customer) send, treated or randomised control.
-- Rows failing a check are in stg_shop__campaign_sends_rejected.
select
    campaign_id,
    customer_id,
    sent_at,
    action,
    coupon_value,
    is_control
from {{ ref('base_shop__campaign_sends') }}
where rejected_reason is null
