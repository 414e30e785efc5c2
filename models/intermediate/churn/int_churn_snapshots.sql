-- Point-in-time churn features and labels: one row per (customer, snapshot_date) for every
-- customer with >= 1 completed order in [snapshot - churn_lookback_days, snapshot).
--
-- Point in time (see int_churn_snapshot_dates): features read rows strictly before
-- snapshot_at (= snapshot_date 00:00); is_churned reads completed orders in
-- [snapshot_at, label_window_end_at). Every input is also capped at as_of, labels included,
-- so a backtest with an earlier as_of never sees a row after it (int_orders and
-- int_completed_orders are cut at as_of already; the cap here keeps that explicit).
--
-- Cost: each order joins the few snapshots after it (<= churn_snapshot_count + 1 copies of
-- narrow rows); what only looks back (gap to the previous order, first purchase of a
-- category) is computed once per row with a window or a group by, before the join; events
-- are reduced to (session, day) rows and matched to the 30 days before each snapshot by
-- equality. Sums are exact (decimal money, integer gap seconds), so the output does not
-- depend on the order in which parallel threads add things up.
{%- set lookback_days = churn_var('churn_lookback_days') %}

with snapshots as (
    select
        snapshot_date,
        snapshot_at,
        is_scoring_snapshot,
        label_window_end_at,
        {{ dbt.dateadd('day', -30, 'snapshot_at') }}                as last_30d_start_at,
        {{ dbt.dateadd('day', -90, 'snapshot_at') }}                as last_90d_start_at,
        {{ dbt.dateadd('day', -180, 'snapshot_at') }}               as prior_90d_start_at,
        {{ dbt.dateadd('day', -lookback_days, 'snapshot_at') }}     as lookback_start_at
    from {{ ref('int_churn_snapshot_dates') }}
),

as_of as (
    select max(as_of) as as_of from {{ ref('int_churn_snapshot_dates') }}
),

orders as (
    -- Every order up to as_of, any status (cancellations are a feature). Completed orders and
    -- the gap to the previous completed one come from int_completed_orders (it owns the
    -- sequence), so one window there serves every snapshot; the other statuses from int_orders.
    select
        order_id,
        customer_id,
        ordered_at,
        true                                                        as is_completed,
        -- money stays decimal until the end: exact sums do not depend on summation order
        order_total,
        discount_total,
        -- whole seconds: integer sums are exact, so gap_std_days does not depend on summation order
        {{ dbt.datediff('previous_order_at', 'ordered_at', 'second') }} as gap_seconds
    from {{ ref('int_completed_orders') }}
    where ordered_at <= (select as_of from as_of)  -- noqa: RF02
    union all
    select
        order_id,
        customer_id,
        ordered_at,
        false                                                       as is_completed,
        order_total,
        discount_total,
        null                                                        as gap_seconds
    from {{ ref('int_orders') }}
    where not is_completed
        and ordered_at <= (select as_of from as_of)  -- noqa: RF02
),

order_features as (
    -- All order history before each snapshot; the population filter is the having clause.
    select
        orders.customer_id,
        snapshots.snapshot_date,
        count(case when orders.is_completed then 1 end)                                     as orders_count,
        count(case when orders.is_completed and orders.ordered_at >= snapshots.last_30d_start_at then 1 end)
                                                                                            as orders_last_30d,
        count(case when orders.is_completed and orders.ordered_at >= snapshots.last_90d_start_at then 1 end)
                                                                                            as orders_last_90d,
        count(case when orders.is_completed
                    and orders.ordered_at >= snapshots.prior_90d_start_at
                    and orders.ordered_at < snapshots.last_90d_start_at then 1 end)         as orders_prior_90d,
        min(case when orders.is_completed then orders.ordered_at end)                       as first_order_at,
        max(case when orders.is_completed then orders.ordered_at end)                       as last_order_at,
        sum(case when orders.is_completed then orders.order_total end)                      as revenue_total,
        -- orders without a discount figure drop out of both sides of discount_share
        sum(case when orders.is_completed then orders.discount_total end)                   as discount_total,
        sum(case when orders.is_completed then orders.order_total + orders.discount_total end)
                                                                                            as list_value_total,
        -- gap mean = (last - first) / (n - 1), see joined; gap std from exact integer sums
        -- (no overflow: the squares sum to at most (sum of gaps)^2 <= (data span in seconds)^2)
        count(orders.gap_seconds)                                                           as gap_count,
        sum(orders.gap_seconds)                                                             as gap_seconds_sum,
        sum(orders.gap_seconds * orders.gap_seconds)                                        as gap_seconds_squared_sum,
        count(case when not orders.is_completed then 1 end)
            as cancelled_returned_orders,
        count(*)                                                                            as orders_any_status
    from orders
    inner join snapshots
        on orders.ordered_at < snapshots.snapshot_at
    group by orders.customer_id, snapshots.snapshot_date
    having count(case when orders.is_completed and orders.ordered_at >= snapshots.lookback_start_at then 1 end) > 0
),

label_orders as (
    -- Completed orders in the label window; none for the scoring snapshot (no window end).
    select
        orders.customer_id,
        snapshots.snapshot_date,
        count(*) as orders_in_label_window
    from orders
    inner join snapshots
        on orders.ordered_at >= snapshots.snapshot_at
        and orders.ordered_at < snapshots.label_window_end_at
    where orders.is_completed
    group by orders.customer_id, snapshots.snapshot_date
),

category_first_purchases as (
    -- A category was bought before s iff its first purchase was: one row per (customer,
    -- category) instead of a distinct count over every snapshot's copy of the items.
    select
        orders.customer_id,
        products.category,
        min(orders.ordered_at) as first_bought_at
    from orders
    inner join {{ ref('stg_shop__order_items') }} as items on orders.order_id = items.order_id
    inner join {{ ref('stg_shop__products') }} as products on items.product_id = products.product_id
    where orders.is_completed and products.category is not null
    group by orders.customer_id, products.category
),

category_features as (
    select
        category_first_purchases.customer_id,
        snapshots.snapshot_date,
        count(*) as category_count
    from category_first_purchases
    inner join snapshots
        on category_first_purchases.first_bought_at < snapshots.snapshot_at
    group by category_first_purchases.customer_id, snapshots.snapshot_date
),

window_days_30d as (
    -- The 30 calendar days before each snapshot. Snapshots start at 00:00, so "in the last 30
    -- days" is exactly "on one of these dates": an equality join instead of a range join over
    -- every event.
    select
        snapshots.snapshot_date,
        cast({{ dbt.dateadd('day', '-offsets.generated_number', 'snapshots.snapshot_date') }} as date) as window_date
    from snapshots
    cross join ({{ dbt.generate_series(30) }}) as offsets  -- noqa: ST05
),

session_days as (
    -- One row per (customer, session, day) with what happened in it, up to as_of.
    select
        customer_id,
        session_id,
        cast(occurred_at as date)                                       as event_date,
        count(case when event_type = 'view' then 1 end)                 as views,
        max(case when event_type = 'add_to_cart' then 1 else 0 end)     as has_cart,
        max(case when event_type = 'purchase' then 1 else 0 end)        as has_purchase
    from {{ ref('stg_shop__events') }}
    where occurred_at <= (select as_of from as_of)  -- noqa: RF02
        and occurred_at >= (select min(last_30d_start_at) from snapshots)  -- noqa: RF02
    group by customer_id, session_id, cast(occurred_at as date)
),

recent_sessions as (
    -- Sessions as seen from s: only their days in [s - 30d, s). A cart whose purchase event
    -- falls after s is abandoned as far as s can know.
    select
        session_days.customer_id,
        window_days_30d.snapshot_date,
        session_days.session_id,
        sum(session_days.views)                                         as views,
        max(session_days.has_cart)                                      as has_cart,
        max(session_days.has_purchase)                                  as has_purchase
    from session_days
    inner join window_days_30d
        on session_days.event_date = window_days_30d.window_date
    group by session_days.customer_id, window_days_30d.snapshot_date, session_days.session_id
),

session_features as (
    select
        customer_id,
        snapshot_date,
        count(session_id)                                              as sessions_last_30d,
        sum(views)                                                     as views_last_30d,
        sum(case when session_id is not null then has_cart end)       as carts_last_30d,
        sum(case when session_id is not null and has_cart = 1 and has_purchase = 0 then 1 else 0 end)
                                                                       as abandoned_carts_last_30d
    from recent_sessions
    group by customer_id, snapshot_date
),

reviews as (
    -- The next review's time is computed once per review: the latest review before s is the
    -- one whose successor (if any) is not before s. Ties in created_at: highest review_id last.
    select
        customer_id,
        created_at,
        cast(rating as double)                                          as rating,
        lead(created_at) over (partition by customer_id order by created_at, review_id)
                                                                        as next_created_at
    from {{ ref('stg_shop__reviews') }}
    where created_at <= (select as_of from as_of)  -- noqa: RF02
),

review_features as (
    select
        reviews.customer_id,
        snapshots.snapshot_date,
        count(*)                                                        as review_count,
        avg(reviews.rating)                                             as review_rating_avg,
        min(reviews.rating)                                             as review_rating_min,
        max(case when reviews.next_created_at is null
                   or reviews.next_created_at >= snapshots.snapshot_at then reviews.rating end)
                                                                        as review_rating_latest
    from reviews
    inner join snapshots
        on reviews.created_at < snapshots.snapshot_at
    group by reviews.customer_id, snapshots.snapshot_date
),

joined as (
    select
        order_features.customer_id,
        order_features.snapshot_date,
        snapshots.is_scoring_snapshot,
        case
            when snapshots.is_scoring_snapshot then null
            when label_orders.orders_in_label_window > 0 then 0
            else 1
        end                                                                        as is_churned,
        customers.acquisition_channel,
        customers.country,
        {{ days_between('order_features.last_order_at', 'snapshots.snapshot_at') }}       as days_since_last_order,
        {{ days_between('order_features.first_order_at', 'snapshots.snapshot_at') }}      as tenure_days,
        order_features.orders_count,
        cast(order_features.revenue_total as double)                               as revenue_total,
        cast(order_features.revenue_total as double) / order_features.orders_count as avg_order_value,
        order_features.orders_last_30d,
        order_features.orders_last_90d,
        order_features.orders_last_90d / (order_features.orders_prior_90d + 1.0)   as order_trend_ratio,
        case when order_features.orders_count >= 2 then
            {{ days_between('order_features.first_order_at', 'order_features.last_order_at') }}
            / (order_features.orders_count - 1)
        end                                                                        as gap_mean_days,
        case when order_features.gap_count >= 2 then
            sqrt(greatest(
                (cast(order_features.gap_seconds_squared_sum as double)
                 - cast(order_features.gap_seconds_sum as double)
                 * order_features.gap_seconds_sum
                 / order_features.gap_count
                 )
                / (order_features.gap_count - 1), 0)) / 86400.0
        end                                                                        as gap_std_days,
        cast(order_features.discount_total as double)                              as discount_total,
        cast(order_features.list_value_total as double)                            as list_value_total,
        order_features.cancelled_returned_orders,
        order_features.orders_any_status,
        coalesce(category_features.category_count, 0)                              as category_count,
        coalesce(session_features.sessions_last_30d, 0)                            as sessions_last_30d,
        coalesce(session_features.views_last_30d, 0)                               as views_last_30d,
        session_features.carts_last_30d,
        session_features.abandoned_carts_last_30d,
        coalesce(review_features.review_count, 0)                                  as review_count,
        review_features.review_rating_avg,
        review_features.review_rating_min,
        review_features.review_rating_latest
    from order_features
    inner join snapshots
        on order_features.snapshot_date = snapshots.snapshot_date
    left join {{ ref('stg_shop__customers') }} as customers
        on order_features.customer_id = customers.customer_id
    left join label_orders
        on order_features.customer_id = label_orders.customer_id
        and order_features.snapshot_date = label_orders.snapshot_date
    left join category_features
        on order_features.customer_id = category_features.customer_id
        and order_features.snapshot_date = category_features.snapshot_date
    left join session_features
        on order_features.customer_id = session_features.customer_id
        and order_features.snapshot_date = session_features.snapshot_date
    left join review_features
        on order_features.customer_id = review_features.customer_id
        and order_features.snapshot_date = review_features.snapshot_date
)

select
    cast(customer_id as {{ dbt.type_string() }})                              as customer_id,
    cast(snapshot_date as date)                                               as snapshot_date,
    cast(is_scoring_snapshot as {{ dbt.type_boolean() }})                     as is_scoring_snapshot,
    cast(is_churned as {{ dbt.type_int() }})                                  as is_churned,
    cast(acquisition_channel as {{ dbt.type_string() }})                      as acquisition_channel,
    cast(country as {{ dbt.type_string() }})                                  as country,
    cast(days_since_last_order as double)                                     as days_since_last_order,
    cast(tenure_days as double)                                               as tenure_days,
    cast(orders_count as {{ dbt.type_bigint() }})                             as orders_count,
    cast(revenue_total as double)                                             as revenue_total,
    cast(avg_order_value as double)                                           as avg_order_value,
    cast(orders_last_30d as {{ dbt.type_bigint() }})                          as orders_last_30d,
    cast(orders_last_90d as {{ dbt.type_bigint() }})                          as orders_last_90d,
    cast(order_trend_ratio as double)                                         as order_trend_ratio,
    cast(gap_mean_days as double)                                             as gap_mean_days,
    cast(gap_std_days as double)                                              as gap_std_days,
    -- null when the gaps are null, or all zero (same-instant orders: "overdue" is undefined)
    cast(days_since_last_order / nullif(gap_mean_days, 0) as double)          as recency_over_gap,
    cast(category_count as {{ dbt.type_bigint() }})                           as category_count,
    cast(discount_total / nullif(list_value_total, 0) as double)              as discount_share,
    cast(cancelled_returned_orders * 1.0 / orders_any_status as double)       as cancel_return_share,
    cast(sessions_last_30d as {{ dbt.type_bigint() }})                        as sessions_last_30d,
    cast(views_last_30d as {{ dbt.type_bigint() }})                           as views_last_30d,
    cast(abandoned_carts_last_30d * 1.0 / nullif(carts_last_30d, 0) as double)
                                                                              as cart_abandonment_rate_30d,
    cast(review_count as {{ dbt.type_bigint() }})                             as review_count,
    cast(review_rating_avg as double)                                         as review_rating_avg,
    cast(review_rating_min as double)                                         as review_rating_min,
    cast(review_rating_latest as double)                                      as review_rating_latest
from joined
