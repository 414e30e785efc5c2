-- One row per valid customer. Rows failing a check are in stg_shop__customers_rejected.
-- Impossible sequence, repaired (not quarantined): a signup later than the customer's first
-- valid order (any status) is set to that order's time and flagged, so days_to_first_order is
-- never negative and the customer keeps their cohort; fct_quarantined_rows counts the repairs
-- (outcome 'repaired', reason signup_after_first_order).
with customers as (
    select * from {{ ref('base_shop__customers') }}
    where rejected_reason is null
),

first_orders as (
    select customer_id, min(ordered_at) as first_ordered_at
    from {{ ref('base_shop__orders') }}
    where rejected_reason is null
    group by customer_id
)

select
    customers.customer_id,
    case when first_orders.first_ordered_at < customers.signup_at
         then first_orders.first_ordered_at else customers.signup_at end   as signup_at,
    customers.email_hash,
    customers.country,
    customers.acquisition_channel,
    coalesce(first_orders.first_ordered_at < customers.signup_at, false)    as is_signup_repaired,
    customers.signup_at                                                     as reported_signup_at
from customers
left join first_orders on customers.customer_id = first_orders.customer_id
