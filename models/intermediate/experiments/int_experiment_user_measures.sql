-- One row per assignment with a full metric window (int_experiment_users): the per-user measures
-- that seeds/experiment_metrics.csv combines into metrics, in the metric window [assigned_at,
-- assigned_at + N days] and in the pre-period [assigned_at - N days, assigned_at) (N = var
-- experiment_conversion_window_days): the pre-assignment covariate CUPED uses. Measures and the
-- pattern for adding one: macros/stats/experiment_stats.sql (experiment_measures).
{%- set window_days = var('experiment_conversion_window_days') %}

with users as (
    select * from {{ ref('int_experiment_users') }}
),

orders as (
    select * from {{ ref('int_experiment_outcome_orders') }}
),

windowed as (
    select
        users.experiment_id,
        users.customer_id,
        orders.ordered_at >= users.assigned_at                      as is_after_assignment,
        orders.is_completed,
        orders.is_returned,
        orders.order_total
    from users
    inner join orders
        on users.customer_id = orders.customer_id
        and orders.ordered_at >= {{ dbt.dateadd('day', -window_days, 'users.assigned_at') }}
        and orders.ordered_at <= users.window_end_at
),

per_user as (
    select
        experiment_id,
        customer_id,
        count(*) filter (where is_after_assignment and is_returned)             as returned_orders,
        count(*) filter (where not is_after_assignment and is_completed)        as pre_completed_orders,
        coalesce(sum(order_total) filter (where not is_after_assignment and is_completed), 0) as pre_revenue,
        count(*) filter (where not is_after_assignment and is_returned)         as pre_returned_orders
    from windowed
    group by experiment_id, customer_id
)

select
    users.experiment_id,
    users.customer_id,
    users.variant,
    users.assigned_at,
    cast(1 as double)                                                       as users,
    cast(case when users.is_converter then 1 else 0 end as double)          as conversions,
    cast(users.completed_orders as double)                                  as completed_orders,
    cast(users.revenue as double)                                           as revenue,
    cast(coalesce(per_user.returned_orders, 0) as double)                   as returned_orders,
    cast(1 as double)                                                       as pre_users,
    cast(case when coalesce(per_user.pre_completed_orders, 0) > 0 then 1 else 0 end as double) as pre_conversions,
    cast(coalesce(per_user.pre_completed_orders, 0) as double)              as pre_completed_orders,
    cast(coalesce(per_user.pre_revenue, 0) as double)                       as pre_revenue,
    cast(coalesce(per_user.pre_returned_orders, 0) as double)               as pre_returned_orders
from users
left join per_user
    on users.experiment_id = per_user.experiment_id
    and users.customer_id = per_user.customer_id
