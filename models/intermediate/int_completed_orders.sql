-- THE one place that says what a purchase is and where it sits in its customer's history: one
-- row per COMPLETED order up to as_of (int_orders is already cut there), numbered from the
-- customer's first, with the previous and next completed order. Cancelled and returned orders
-- never count, so one between two purchases does not cut the gap. Ties on ordered_at are
-- broken by order_id, so the sequence is deterministic.
with completed_orders as (
    select * from {{ ref('int_orders') }}
    where is_completed
),

sequenced as (
    select
        *,
        row_number() over customer_history                      as order_number,
        lag(ordered_at) over customer_history                   as previous_order_at,
        lead(ordered_at) over customer_history                  as next_order_at,
        min(ordered_at) over (partition by customer_id)         as first_order_at,
        max(ordered_at) over (partition by customer_id)         as last_order_at,
        count(*) over (partition by customer_id)                as customer_completed_orders
    from completed_orders
    window customer_history as (partition by customer_id order by ordered_at, order_id)
)

select
    order_id,
    customer_id,
    ordered_at,
    order_date,
    order_total,
    discount_total,
    distinct_products,
    units,
    items_total,
    cast(order_number as bigint)                                                    as order_number,
    order_number = 1                                                                as is_first_order,
    order_number > 1                                                                as is_repeat_order,
    previous_order_at,
    next_order_at,
    cast({{ days_between('previous_order_at', 'ordered_at') }} as double)           as days_since_previous_order,
    first_order_at,
    last_order_at,
    cast(customer_completed_orders as bigint)                                       as customer_completed_orders
from sequenced
