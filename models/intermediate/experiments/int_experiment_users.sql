-- One row per (experiment, customer) assignment whose whole conversion window has been observed:
-- assigned_at + var experiment_conversion_window_days <= as_of. Users assigned later are left
-- out entirely rather than counted as non-converters, which would bias recent variants' rates
-- down. A user converts with a completed order in [assigned_at, assigned_at + window], both
-- ends included; revenue is the completed revenue in the same window.
{%- set window_days = var('experiment_conversion_window_days') %}

with assignments as (
    select
        experiment_id,
        customer_id,
        variant,
        assigned_at,
        {{ dbt.dateadd('day', window_days, 'assigned_at') }}   as window_end_at
    from {{ ref('stg_shop__experiment_assignments') }}
    where {{ dbt.dateadd('day', window_days, 'assigned_at') }} <= {{ as_of() }}
),

orders_in_window as (
    select
        assignments.experiment_id,
        assignments.customer_id,
        count(*)                                                as completed_orders,
        sum(completed_orders.order_total)                       as revenue
    from assignments
    inner join {{ ref('int_completed_orders') }} as completed_orders
        on assignments.customer_id = completed_orders.customer_id
        and completed_orders.ordered_at >= assignments.assigned_at
        and completed_orders.ordered_at <= assignments.window_end_at
    group by assignments.experiment_id, assignments.customer_id
)

select
    assignments.experiment_id,
    assignments.customer_id,
    assignments.variant,
    assignments.assigned_at,
    assignments.window_end_at,
    cast(coalesce(orders_in_window.completed_orders, 0) as bigint)      as completed_orders,
    coalesce(orders_in_window.completed_orders, 0) > 0                  as is_converter,
    cast(coalesce(orders_in_window.revenue, 0) as decimal(18, 2))       as revenue
from assignments
left join orders_in_window
    on assignments.experiment_id = orders_in_window.experiment_id
    and assignments.customer_id = orders_in_window.customer_id
