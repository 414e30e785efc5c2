-- One row per valid price spell (product, valid_from). Rows failing a check are in stg_shop__price_history_rejected.
select
    product_id,
    valid_from,
    list_price,
    is_promotion
from {{ ref('base_shop__price_history') }}
where rejected_reason is null
