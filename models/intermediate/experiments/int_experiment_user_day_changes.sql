-- The sequential view per user, sparse: one row per assignment and day since the experiment's
-- start (int_experiment_days) on which what a team peeking at the end of that day would see
-- changes: the day the user starts counting (the first day ending after assigned_at) and each
-- day a counted order first becomes visible. The values are cumulative as of that day and hold
-- until the user's next row, so the dense user x day table (users x ~150 days) is never built.
-- Measures as in int_experiment_user_measures, over [assigned_at, least(assigned_at + N days,
-- end of the day)] (N = var experiment_conversion_window_days). There is no pre-period here
-- (pre_* = 0, pre_users = 1): sequential tests use raw estimates.
{%- set window_days = var('experiment_conversion_window_days') %}

with days as (
    select * from {{ ref('int_experiment_days') }}
),

starts as (
    select distinct experiment_id, experiment_start_at from days
),

assignments as (
    select
        assignments.experiment_id,
        assignments.customer_id,
        assignments.variant,
        assignments.assigned_at,
        {{ dbt.dateadd('day', window_days, 'assignments.assigned_at') }}          as window_end_at,
        starts.experiment_start_at,
        -- day the user starts counting: the first d with assigned_at < start + d days (a float
        -- estimate corrected against exact timestamps just below)
        cast(floor({{ days_between('starts.experiment_start_at', 'assignments.assigned_at') }}) as integer) + 1
                                                                                    as entry_day_estimate
    from {{ ref('stg_shop__experiment_assignments') }} as assignments
    inner join starts
        on assignments.experiment_id = starts.experiment_id
    where assignments.assigned_at <= {{ as_of() }}
),

entries as (
    select
        experiment_id,
        customer_id,
        variant,
        assigned_at,
        window_end_at,
        experiment_start_at,
        case
            when entry_day_estimate > 1
                and assigned_at < {{ dbt.dateadd('day', 'entry_day_estimate - 1', 'experiment_start_at') }}
                then entry_day_estimate - 1
            when assigned_at < {{ dbt.dateadd('day', 'entry_day_estimate', 'experiment_start_at') }}
                then entry_day_estimate
            else entry_day_estimate + 1
        end                                                                         as entry_day
    from assignments
),

counted_orders as (
    -- orders in [assigned_at, window_end_at], with the first d >= 1 with ordered_at <= start + d days
    select
        entries.experiment_id,
        entries.customer_id,
        entries.entry_day,
        entries.experiment_start_at,
        orders.ordered_at,
        orders.is_completed,
        orders.is_returned,
        orders.order_total,
        cast(ceil({{ days_between('entries.experiment_start_at', 'orders.ordered_at') }}) as integer)
                                                                                    as order_day_estimate
    from entries
    inner join {{ ref('int_experiment_outcome_orders') }} as orders
        on entries.customer_id = orders.customer_id
        and orders.ordered_at >= entries.assigned_at
        and orders.ordered_at <= entries.window_end_at
),

visible_orders as (
    select
        experiment_id,
        customer_id,
        -- counted from the day it is visible, and not before the user counts
        greatest(entry_day, case
            when order_day_estimate > 1
                and ordered_at <= {{ dbt.dateadd('day', 'order_day_estimate - 1', 'experiment_start_at') }}
                then order_day_estimate - 1
            when ordered_at <= {{ dbt.dateadd('day', 'order_day_estimate', 'experiment_start_at') }}
                then order_day_estimate
            else order_day_estimate + 1
        end)                                                                        as days_since_start,
        is_completed,
        is_returned,
        order_total
    from counted_orders
),

order_changes as (
    select
        experiment_id,
        customer_id,
        days_since_start,
        count(*) filter (where is_completed)                                        as completed_orders,
        coalesce(sum(order_total) filter (where is_completed), 0)                   as revenue,
        count(*) filter (where is_returned)                                         as returned_orders
    from visible_orders
    group by experiment_id, customer_id, days_since_start
),

change_days as (
    select experiment_id, customer_id, entry_day as days_since_start from entries
    union
    select experiment_id, customer_id, days_since_start from order_changes
),

changes as (
    select
        entries.experiment_id,
        entries.customer_id,
        entries.variant,
        change_days.days_since_start,
        coalesce(order_changes.completed_orders, 0)                                 as completed_orders,
        coalesce(order_changes.revenue, 0)                                          as revenue,
        coalesce(order_changes.returned_orders, 0)                                  as returned_orders
    from entries
    inner join change_days
        on entries.experiment_id = change_days.experiment_id
        and entries.customer_id = change_days.customer_id
    left join order_changes
        on change_days.experiment_id = order_changes.experiment_id
        and change_days.customer_id = order_changes.customer_id
        and change_days.days_since_start = order_changes.days_since_start
    -- days past the calendar (after every window closed or as_of) are never observed
    inner join days
        on change_days.experiment_id = days.experiment_id
        and change_days.days_since_start = days.days_since_start
),

cumulative as (
    select
        experiment_id,
        days_since_start,
        customer_id,
        variant,
        sum(completed_orders) over user_days                                        as completed_orders,
        sum(revenue) over user_days                                                 as revenue,
        sum(returned_orders) over user_days                                         as returned_orders
    from changes
    window user_days as (
        partition by experiment_id, customer_id
        order by days_since_start
        rows between unbounded preceding and current row
    )
)

select
    experiment_id,
    days_since_start,
    customer_id,
    variant,
    cast(1 as double)                                                               as users,
    cast(case when completed_orders > 0 then 1 else 0 end as double)                as conversions,
    cast(completed_orders as double)                                                as completed_orders,
    cast(revenue as double)                                                         as revenue,
    cast(returned_orders as double)                                                 as returned_orders,
    cast(1 as double)                                                               as pre_users,
    cast(0 as double)                                                               as pre_conversions,
    cast(0 as double)                                                               as pre_completed_orders,
    cast(0 as double)                                                               as pre_revenue,
    cast(0 as double)                                                               as pre_returned_orders
from cumulative
