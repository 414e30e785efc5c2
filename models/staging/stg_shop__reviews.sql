-- One row per valid review. Rows failing a check are in stg_shop__reviews_rejected.
select
    review_id,
    customer_id,
    product_id,
    rating,
    review_text,
    created_at
from {{ ref('base_shop__reviews') }}
where rejected_reason is null
