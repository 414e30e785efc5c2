-- The BI / ML contract for customer x product implicit feedback up to as_of.
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
