-- The BI / ML contract for customer x product implicit feedback up to as_of.
-- A view: it is a column subset of int_user_item_interactions (one row each), so a table would be
-- a second copy of its millions of rows rebuilt on every build (18 s of CPU at 1M customers).
{{ config(materialized='view') }}
select
    customer_id,
    product_id,
    view_count,
    add_to_cart_count,
    purchase_event_count,
    purchase_count,
    quantity_purchased,
    strength,
    first_interaction_at,
    last_interaction_at
from {{ ref('int_user_item_interactions') }}
