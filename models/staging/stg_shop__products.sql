-- One row per valid product. Rows failing a check are in stg_shop__products_rejected.
select
    product_id,
    category,
    brand,
    list_price
from {{ ref('base_shop__products') }}
where rejected_reason is null
