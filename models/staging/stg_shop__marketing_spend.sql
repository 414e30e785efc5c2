-- One row per valid (day, channel) of spend. Rows failing a check are in stg_shop__marketing_spend_rejected.
select
    spend_date,
    channel,
    spend
from {{ ref('base_shop__marketing_spend') }}
where rejected_reason is null
