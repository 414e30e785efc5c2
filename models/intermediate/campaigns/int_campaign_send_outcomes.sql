-- One row per campaign send (treated or randomised control) whose whole effect window has been
-- observed (sent_at + var campaign_effect_window_days <= as_of): whether the customer placed a
-- completed order in (sent_at, sent_at + window] and the completed revenue there. Sends whose
-- window is still open are left out, not counted as non-converters.
{%- set window_days = var('campaign_effect_window_days') %}

with sends as (
    select
        campaign_id,
        customer_id,
        sent_at,
        action,
        coupon_value,
        is_control,
        {{ dbt.dateadd('day', window_days, 'sent_at') }}      as window_end_at
    from {{ ref('stg_shop__campaign_sends') }}
    where {{ dbt.dateadd('day', window_days, 'sent_at') }} <= {{ as_of() }}
),

outcomes as (
    select
        sends.campaign_id,
        sends.customer_id,
        count(*)                                             as completed_orders,
        sum(completed_orders.order_total)                    as revenue
    from sends
    inner join {{ ref('int_completed_orders') }} as completed_orders
        on sends.customer_id = completed_orders.customer_id
        and completed_orders.ordered_at > sends.sent_at
        and completed_orders.ordered_at <= sends.window_end_at
    group by sends.campaign_id, sends.customer_id
)

select
    sends.campaign_id,
    sends.customer_id,
    sends.sent_at,
    sends.action,
    sends.coupon_value,
    sends.is_control,
    cast(coalesce(outcomes.completed_orders, 0) as bigint)           as completed_orders,
    coalesce(outcomes.completed_orders, 0) > 0                       as is_converter,
    cast(coalesce(outcomes.revenue, 0) as double)                    as revenue
from sends
left join outcomes
    on sends.campaign_id = outcomes.campaign_id
    and sends.customer_id = outcomes.customer_id
