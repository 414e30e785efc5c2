-- One row per assignment and day since the experiment's start (its first assigned_at): what a
-- team peeking at the end of that day would have seen. A user counts from the day of
-- assignment; the measures (as in int_experiment_user_measures) are cumulative over
-- [assigned_at, least(assigned_at + N days, end of the day)] (N = var
-- experiment_conversion_window_days). Days run until every window has closed or as_of.
-- There is no pre-period here (pre_* = 0, pre_users = 1): sequential tests use raw estimates.
{%- set window_days = var('experiment_conversion_window_days') %}

with assignments as (
    select
        experiment_id,
        customer_id,
        variant,
        assigned_at,
        {{ dbt.dateadd('day', window_days, 'assigned_at') }}                      as window_end_at,
        min(assigned_at) over (partition by experiment_id)                          as experiment_start_at
    from {{ ref('stg_shop__experiment_assignments') }}
    where assigned_at <= {{ as_of() }}
),

experiments as (
    select
        experiment_id,
        min(experiment_start_at)                                                    as experiment_start_at,
        {{ days_between('min(experiment_start_at)',
            'least(max(window_end_at), ' ~ as_of() ~ ')') }} + 1                    as days
    from assignments
    group by experiment_id
),

digits as (
    select 0 as d
    union all
    select 1
    union all
    select 2
    union all
    select 3
    union all
    select 4
    union all
    select 5
    union all
    select 6
    union all
    select 7
    union all
    select 8
    union all
    select 9
),

day_numbers as (
    -- 1..999: portable day spine (a window longer than that is cut, with the experiment).
    select ones.d + 10 * tens.d + 100 * hundreds.d                                  as day_number
    from digits as ones
    cross join digits as tens
    cross join digits as hundreds
    where ones.d + 10 * tens.d + 100 * hundreds.d >= 1
),

days as (
    select
        experiments.experiment_id,
        day_numbers.day_number                                                      as days_since_start,
        {{ dbt.dateadd('day', 'day_numbers.day_number', 'experiments.experiment_start_at') }} as observed_until_at
    from experiments
    inner join day_numbers on day_numbers.day_number <= experiments.days
),

user_days as (
    select
        days.experiment_id,
        days.days_since_start,
        assignments.customer_id,
        assignments.variant,
        assignments.assigned_at,
        least(assignments.window_end_at, days.observed_until_at)                    as counted_until_at
    from days
    inner join assignments
        on days.experiment_id = assignments.experiment_id
        and assignments.assigned_at < days.observed_until_at
),

orders as (
    select * from {{ ref('int_experiment_outcome_orders') }}
),

measured as (
    select
        user_days.experiment_id,
        user_days.days_since_start,
        user_days.customer_id,
        count(*) filter (where orders.is_completed)                                 as completed_orders,
        coalesce(sum(orders.order_total) filter (where orders.is_completed), 0)     as revenue,
        count(*) filter (where orders.is_returned)                                  as returned_orders
    from user_days
    inner join orders
        on user_days.customer_id = orders.customer_id
        and orders.ordered_at >= user_days.assigned_at
        and orders.ordered_at <= user_days.counted_until_at
    group by user_days.experiment_id, user_days.days_since_start, user_days.customer_id
)

select
    user_days.experiment_id,
    user_days.days_since_start,
    user_days.customer_id,
    user_days.variant,
    cast(1 as double)                                                               as users,
    cast(case when coalesce(measured.completed_orders, 0) > 0 then 1 else 0 end as double) as conversions,
    cast(coalesce(measured.completed_orders, 0) as double)                          as completed_orders,
    cast(coalesce(measured.revenue, 0) as double)                                   as revenue,
    cast(coalesce(measured.returned_orders, 0) as double)                           as returned_orders,
    cast(1 as double)                                                               as pre_users,
    cast(0 as double)                                                               as pre_conversions,
    cast(0 as double)                                                               as pre_completed_orders,
    cast(0 as double)                                                               as pre_revenue,
    cast(0 as double)                                                               as pre_returned_orders
from user_days
left join measured
    on user_days.experiment_id = measured.experiment_id
    and user_days.days_since_start = measured.days_since_start
    and user_days.customer_id = measured.customer_id
