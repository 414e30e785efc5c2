-- One row per browsing session with events on or before as_of: who, when it started (its first
-- event), and which funnel steps it reached. Events after as_of are left out, so a session
-- straddling as_of is seen as it was at as_of.
with events as (
    select
        session_id,
        customer_id,
        event_type,
        occurred_at
    from {{ ref('stg_shop__events') }}
    where occurred_at <= {{ as_of() }}
)

select
    session_id,
    -- A session belongs to one customer; min() only makes that deterministic if the raw data
    -- ever disagrees.
    min(customer_id)                                                     as customer_id,
    min(occurred_at)                                                     as session_started_at,
    cast({{ dbt.date_trunc('month', 'min(occurred_at)') }} as date)     as session_month,
    count(*)                                                             as events,
    {{ dbt.bool_or("event_type = 'view'") }}                            as has_view,
    {{ dbt.bool_or("event_type = 'add_to_cart'") }}                     as has_add_to_cart,
    {{ dbt.bool_or("event_type = 'purchase'") }}                        as has_purchase
from events
group by session_id
