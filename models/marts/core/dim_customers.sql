-- One row per customer who signed up on or before as_of, with their purchase history.
-- Acquisition cohort = the week / month of the FIRST COMPLETED order (null if none yet).
with customers as (
    select *
    from {{ ref('stg_shop__customers') }}
    where signup_at <= {{ as_of() }}
),

orders as (
    select * from {{ ref('int_customer_orders') }}
)

select
    customers.customer_id,
    customers.email_hash,
    customers.signup_at,
    cast(customers.signup_at as date)                                         as signup_date,
    customers.acquisition_channel,
    customers.country,
    cast({{ dbt.date_trunc('week', 'orders.first_order_at') }} as date)       as cohort_week,
    cast({{ dbt.date_trunc('month', 'orders.first_order_at') }} as date)      as cohort_month,
    orders.first_order_at,
    orders.last_order_at,
    cast(coalesce(orders.completed_orders, 0) as bigint)                      as completed_orders,
    cast(coalesce(orders.cancelled_orders, 0) as bigint)                      as cancelled_orders,
    cast(coalesce(orders.returned_orders, 0) as bigint)                       as returned_orders,
    cast(coalesce(orders.revenue, 0) as decimal(18, 2))                       as revenue,
    cast(orders.revenue / nullif(orders.completed_orders, 0) as decimal(18, 2)) as average_order_value,
    cast({{ days_between('orders.last_order_at', as_of()) }} as double)       as days_since_last_order,
    cast({{ days_between('orders.first_order_at', as_of()) }} as double)      as tenure_days,
    cast({{ days_between('customers.signup_at', 'orders.first_order_at') }} as double) as days_to_first_order,
    coalesce(orders.completed_orders, 0) >= 1                                 as is_customer,
    coalesce(orders.completed_orders, 0) >= 2                                 as is_repeat_buyer
from customers
left join orders on customers.customer_id = orders.customer_id
