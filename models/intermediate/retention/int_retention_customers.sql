-- One row per retention-cohort customer: signed up by as_of and at least one COMPLETED order by
-- as_of (cancelled/returned orders never make anyone a customer). The first completed order
-- defines the cohort; the second one is the repeat purchase (null until it happens).
with customers as (
    select customer_id
    from {{ ref('stg_shop__customers') }}
    where signup_at <= {{ as_of() }}
),

histories as (
    -- One row per customer: the first and second purchase of int_completed_orders' sequence.
    select
        customer_id,
        min(first_order_at)                                         as first_order_at,
        min(case when order_number = 2 then ordered_at end)         as second_order_at,
        min(customer_completed_orders)                              as completed_orders
    from {{ ref('int_completed_orders') }}
    group by customer_id
)

select
    histories.customer_id,
    histories.first_order_at,
    histories.second_order_at,
    histories.completed_orders
from histories
inner join customers on histories.customer_id = customers.customer_id
