-- Completed revenue of ACQUIRED customers (converted within the conversion window) per
-- acquisition cell (channel x signup month) and "month since first order", where a month is
-- 30 days and month k covers (30 (k-1), 30 k] days after the first order; the first order
-- itself is in month 1. So cumulative revenue through month k is exactly the revenue within
-- 30 k days of the first order, the same inclusive windows as revenue_<N>d.
-- Only months in which the cell has revenue appear: cumulative revenue is a step function
-- that only rises in those months, which is all the payback search needs.
with acquired_customers as (
    select
        customer_id,
        acquisition_channel,
        signup_month,
        first_order_at
    from {{ ref('int_acquisition_customers') }}
    where is_converted
),

orders_by_month as (
    select
        acquired_customers.acquisition_channel,
        acquired_customers.signup_month,
        cast(greatest(1, ceil(
            {{ days_between('acquired_customers.first_order_at', 'completed_orders.ordered_at') }} / 30.0
        )) as bigint)                                         as months_since_first_order,
        completed_orders.order_total
    from acquired_customers
    inner join {{ ref('int_completed_orders') }} as completed_orders
        on acquired_customers.customer_id = completed_orders.customer_id
        and completed_orders.ordered_at >= acquired_customers.first_order_at
)

select
    acquisition_channel,
    signup_month,
    months_since_first_order,
    cast(sum(order_total) as decimal(18, 2))                  as revenue,
    cast(sum(sum(order_total)) over (
        partition by acquisition_channel, signup_month
        order by months_since_first_order
        rows between unbounded preceding and current row
    ) as decimal(18, 2))                                       as cumulative_revenue
from orders_by_month
group by acquisition_channel, signup_month, months_since_first_order
