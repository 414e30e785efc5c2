-- One row per valid customer. Rows failing a check are in stg_shop__customers_rejected.
select
    customer_id,
    signup_at,
    email_hash,
    country,
    acquisition_channel
from {{ ref('base_shop__customers') }}
where rejected_reason is null
