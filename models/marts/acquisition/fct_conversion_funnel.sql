-- Session funnel per acquisition channel (of the session's customer) and month (of the
-- session's first event): view -> add to cart -> purchase. Rates are step-conditional, so
-- every rate is in [0, 1] even when a session skips a step (an add to cart without a view
-- event): view_to_cart = sessions with a view AND a cart / sessions with a view, and so on.
with sessions as (
    select * from {{ ref('int_session_funnel_steps') }}
),

customers as (
    select customer_id, acquisition_channel from {{ ref('stg_shop__customers') }}
),

sessions_by_channel as (
    select
        -- Events of customers without a valid customer row cannot pass staging (orphans are
        -- quarantined); 'unknown' only keeps the grain non-null if that ever changes.
        coalesce(customers.acquisition_channel, 'unknown')              as acquisition_channel,
        sessions.session_month,
        sessions.has_view,
        sessions.has_add_to_cart,
        sessions.has_purchase
    from sessions
    left join customers on sessions.customer_id = customers.customer_id
),

counted as (
    select
        acquisition_channel,
        session_month,
        count(*)                                                        as sessions,
        count(*) filter (where has_view)                                as sessions_with_view,
        count(*) filter (where has_add_to_cart)                         as sessions_with_add_to_cart,
        count(*) filter (where has_purchase)                            as sessions_with_purchase,
        count(*) filter (where has_view and has_add_to_cart)            as sessions_with_view_and_cart,
        count(*) filter (where has_add_to_cart and has_purchase)        as sessions_with_cart_and_purchase
    from sessions_by_channel
    group by acquisition_channel, session_month
)

select
    cast(acquisition_channel as varchar)                                as acquisition_channel,
    cast(session_month as date)                                         as session_month,
    cast(sessions as bigint)                                            as sessions,
    cast(sessions_with_view as bigint)                                  as sessions_with_view,
    cast(sessions_with_add_to_cart as bigint)                           as sessions_with_add_to_cart,
    cast(sessions_with_purchase as bigint)                              as sessions_with_purchase,
    cast(sessions_with_view_and_cart * 1.0 / nullif(sessions_with_view, 0) as double)       as view_to_cart_rate,
    cast(sessions_with_cart_and_purchase * 1.0 / nullif(sessions_with_add_to_cart, 0) as double)
                                                                                            as cart_to_purchase_rate,
    cast(sessions_with_purchase * 1.0 / nullif(sessions, 0) as double)                      as session_to_purchase_rate,
    cast((sessions_with_add_to_cart - sessions_with_cart_and_purchase) * 1.0
        / nullif(sessions_with_add_to_cart, 0) as double)                                   as cart_abandonment_rate
from counted
