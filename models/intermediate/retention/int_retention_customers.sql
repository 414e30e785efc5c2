-- One row per retention-cohort customer: signed up by as_of and at least one COMPLETED order by
-- as_of (cancelled/returned orders never make anyone a customer). The first completed order
-- defines the cohort; the second one is the repeat purchase (null until it happens).
with customers as (
    select customer_id
    from {{ ref('stg_shop__customers') }}
    where signup_at <= {{ as_of() }}
),

completed_orders as (
    select
        customer_id,
        ordered_at,
        completed_order_number
    from {{ ref('int_orders') }}
    where is_completed
),

histories as (
    select
        customer_id,
        min(case when completed_order_number = 1 then ordered_at end) as first_order_at,
        min(case when completed_order_number = 2 then ordered_at end) as second_order_at,
        count(*)                                                      as completed_orders
    from completed_orders
    group by customer_id
)

select
    histories.customer_id,
    histories.first_order_at,
    histories.second_order_at,
    cast(histories.completed_orders as bigint) as completed_orders
from histories
inner join customers on histories.customer_id = customers.customer_id
