-- Cohort retention triangle: one row per cohort grain, customer segment, cohort (the period of
-- the customer's FIRST COMPLETED order) and period since it. The grid is dense: every period
-- from 0 to the one containing as_of is present, with zeros, so curves never skip a period.
-- Segments (overall, acquisition_channel, ...) come from int_retention_customer_segments.
{%- set grains = retention_cohort_grains() %}

with customers as (
    select * from {{ ref('int_retention_customers') }}
),

segments as (
    select * from {{ ref('int_retention_customer_segments') }}
),

as_of as (
    select as_of from {{ ref('int_as_of') }}
),

-- Only completed orders are purchases; int_completed_orders already stops at as_of.
completed_orders as (
    select
        customer_id,
        ordered_at,
        order_total
    from {{ ref('int_completed_orders') }}
),

-- Each customer's cohort at each grain, the period of their repeat purchase, and the last
-- period (the one containing as_of) their cohort is observed in.
customer_cohorts as (
    {%- for grain in grains %}
    select
        customers.customer_id,
        '{{ grain }}' as cohort_grain,
        {{ retention_period_start(grain, 'customers.first_order_at') }} as cohort_start,
        {{ retention_periods_between(
            retention_period_start(grain, 'customers.first_order_at'),
            retention_period_start(grain, 'customers.second_order_at'), grain) }} as repeat_period_number,
        {{ retention_periods_between(
            retention_period_start(grain, 'customers.first_order_at'),
            retention_period_start(grain, 'as_of.as_of'), grain) }} as last_period_number
    from customers
    cross join as_of
    {{- '\n    union all' if not loop.last }}
    {%- endfor %}
),

-- Completed orders placed in each period since the customer's cohort period.
customer_periods as (
    {%- for grain in grains %}
    select
        customer_cohorts.customer_id,
        customer_cohorts.cohort_grain,
        customer_cohorts.cohort_start,
        {{ retention_periods_between(
            'customer_cohorts.cohort_start',
            retention_period_start(grain, 'completed_orders.ordered_at'), grain) }} as period_number,
        count(*)                            as orders,
        sum(completed_orders.order_total)   as revenue
    from completed_orders
    inner join customer_cohorts
        on completed_orders.customer_id = customer_cohorts.customer_id
        and customer_cohorts.cohort_grain = '{{ grain }}'
    group by 1, 2, 3, 4
    {{- '\n    union all' if not loop.last }}
    {%- endfor %}
),

cohorts as (
    select
        customer_cohorts.cohort_grain,
        segments.segment_type,
        segments.segment_value,
        customer_cohorts.cohort_start,
        max(customer_cohorts.last_period_number) as last_period_number,
        count(*)                                 as cohort_size
    from customer_cohorts
    inner join segments on customer_cohorts.customer_id = segments.customer_id
    group by 1, 2, 3, 4
),

activity as (
    select
        customer_periods.cohort_grain,
        segments.segment_type,
        segments.segment_value,
        customer_periods.cohort_start,
        customer_periods.period_number,
        count(*)                        as active_customers,
        sum(customer_periods.orders)    as orders,
        sum(customer_periods.revenue)   as revenue
    from customer_periods
    inner join segments on customer_periods.customer_id = segments.customer_id
    group by 1, 2, 3, 4, 5
),

-- Customers whose second completed order falls in the period (cumulated below).
new_repeaters as (
    select
        customer_cohorts.cohort_grain,
        segments.segment_type,
        segments.segment_value,
        customer_cohorts.cohort_start,
        customer_cohorts.repeat_period_number as period_number,
        count(*)                              as new_repeat_customers
    from customer_cohorts
    inner join segments on customer_cohorts.customer_id = segments.customer_id
    where customer_cohorts.repeat_period_number is not null
    group by 1, 2, 3, 4, 5
),

period_numbers as (
    {{ retention_integer_series('select max(last_period_number) from cohorts', 'period_number') }}
),

-- Dense grid: every cohort x every period from 0 to the period containing as_of.
grid as (
    {%- for grain in grains %}
    select
        cohorts.cohort_grain,
        cohorts.segment_type,
        cohorts.segment_value,
        cohorts.cohort_start,
        cohorts.cohort_size,
        period_numbers.period_number,
        {{ retention_period_add(grain, 'period_numbers.period_number', 'cohorts.cohort_start') }} as period_start,
        {{ retention_period_add(grain, 'period_numbers.period_number + 1', 'cohorts.cohort_start') }} as period_end
    from cohorts
    inner join period_numbers on period_numbers.period_number <= cohorts.last_period_number
    where cohorts.cohort_grain = '{{ grain }}'
    {{- '\n    union all' if not loop.last }}
    {%- endfor %}
),

filled as (
    select
        grid.cohort_grain,
        grid.segment_type,
        grid.segment_value,
        grid.cohort_start,
        grid.period_number,
        grid.period_start,
        -- A period is complete once its (exclusive) end has passed; the period containing
        -- as_of is still filling up, so a low value there is not a drop.
        cast(grid.period_end as {{ dbt.type_timestamp() }}) <= as_of.as_of     as is_complete,
        grid.cohort_size,
        coalesce(activity.active_customers, 0)                                  as active_customers,
        coalesce(activity.orders, 0)                                            as orders,
        coalesce(activity.revenue, 0)                                           as revenue,
        coalesce(new_repeaters.new_repeat_customers, 0)                         as new_repeat_customers
    from grid
    cross join as_of
    left join activity
        on grid.cohort_grain = activity.cohort_grain
        and grid.segment_type = activity.segment_type
        and grid.segment_value = activity.segment_value
        and grid.cohort_start = activity.cohort_start
        and grid.period_number = activity.period_number
    left join new_repeaters
        on grid.cohort_grain = new_repeaters.cohort_grain
        and grid.segment_type = new_repeaters.segment_type
        and grid.segment_value = new_repeaters.segment_value
        and grid.cohort_start = new_repeaters.cohort_start
        and grid.period_number = new_repeaters.period_number
)

select
    cast(cohort_grain as {{ dbt.type_string() }})                    as cohort_grain,
    cast(segment_type as {{ dbt.type_string() }})                    as segment_type,
    cast(segment_value as {{ dbt.type_string() }})                   as segment_value,
    cohort_start,
    cast(period_number as bigint)                                    as period_number,
    period_start,
    is_complete,
    cast(cohort_size as bigint)                                      as cohort_size,
    cast(active_customers as bigint)                                 as active_customers,
    cast(active_customers as double) / cohort_size                   as retention_rate,
    cast(orders as bigint)                                           as orders,
    cast(revenue as decimal(18, 2))                                  as revenue,
    cast(
        sum(revenue) over (
            partition by cohort_grain, segment_type, segment_value, cohort_start
            order by period_number
            rows between unbounded preceding and current row
        ) / cohort_size
    as decimal(18, 2))                                               as cumulative_revenue_per_customer,
    cast(
        sum(new_repeat_customers) over (
            partition by cohort_grain, segment_type, segment_value, cohort_start
            order by period_number
            rows between unbounded preceding and current row
        )
    as double) / cohort_size                                         as repeat_purchase_rate
from filled
