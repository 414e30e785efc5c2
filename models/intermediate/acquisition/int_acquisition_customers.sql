-- One row per customer who signed up on or before as_of: channel, signup month, first completed
-- order, whether it counts as an acquisition (first completed order within
-- var conversion_window_days of signup, boundary included), and completed revenue in the first
-- N days after the first order for N = 30, 90, 180 (acquisition_revenue_windows_days()).
-- Only completed orders count: a customer whose orders were all cancelled or returned has no
-- first order and is not converted.
{%- set conversion_window_days = var('conversion_window_days') %}

with customers as (
    select
        customer_id,
        acquisition_channel,
        signup_at
    from {{ ref('stg_shop__customers') }}
    where signup_at <= {{ as_of() }}
),

first_orders as (
    select
        customer_id,
        first_order_at
    from {{ ref('int_completed_orders') }}
    where is_first_order
),

customer_first_orders as (
    select
        customers.customer_id,
        customers.acquisition_channel,
        customers.signup_at,
        first_orders.first_order_at,
        first_orders.first_order_at is not null
            and first_orders.first_order_at
                <= {{ dbt.dateadd('day', conversion_window_days, 'customers.signup_at') }}
            as is_converted
    from customers
    left join first_orders on customers.customer_id = first_orders.customer_id
),

revenue_after_first_order as (
    -- Windows are inclusive, like the conversion window: an order exactly N days after the
    -- first order is inside the N-day window.
    select
        customer_id
        {%- for days in acquisition_revenue_windows_days() %},
        sum(case
            when ordered_at <= {{ dbt.dateadd('day', days, 'first_order_at') }}
            then order_total else 0 end)                                as revenue_{{ days }}d
        {%- endfor %}
    from {{ ref('int_completed_orders') }}
    group by customer_id
)

select
    customer_first_orders.customer_id,
    customer_first_orders.acquisition_channel,
    customer_first_orders.signup_at,
    cast({{ dbt.date_trunc('month', 'customer_first_orders.signup_at') }} as date) as signup_month,
    customer_first_orders.first_order_at,
    cast({{ days_between('customer_first_orders.signup_at', 'customer_first_orders.first_order_at') }} as double)
        as days_to_first_order,
    customer_first_orders.is_converted,
    cast({{ days_between('customer_first_orders.first_order_at', as_of()) }} as double)
        as days_observed_after_first_order
    {%- for days in acquisition_revenue_windows_days() %},
    cast(revenue_after_first_order.revenue_{{ days }}d as decimal(18, 2))   as revenue_{{ days }}d
    {%- endfor %}
from customer_first_orders
left join revenue_after_first_order
    on customer_first_orders.customer_id = revenue_after_first_order.customer_id
