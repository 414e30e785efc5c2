-- One row per product with a valid unit cost. Rows failing a check are in stg_shop__product_costs_rejected.
select
    product_id,
    unit_cost
from {{ ref('base_shop__product_costs') }}
where rejected_reason is null
