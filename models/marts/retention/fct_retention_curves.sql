-- Kaplan-Meier repurchase curves, read at fixed days (var retention_curve_days).
-- A subject starts at a completed order and has the event when the customer's NEXT completed
-- order happens; without one yet it is censored at as_of (it leaves the risk set, it is not
-- counted as lost). Two curve types:
--   first_to_second_order: one subject per customer, from the first to the second completed order
--                          (the classic repeat-purchase curve);
--   between_orders:        one subject per completed order, to the next completed order (the
--                          inter-purchase time; subjects of one customer are not independent).
-- Time is counted in whole days, rounded UP (a next order 29.3 days later is "within 30 days"),
-- so at every integer day the event, censoring and at-risk counts are exact and the KM time
-- line has at most one row per day and segment, whatever the data size.
-- KM: S(t) = prod over event days t_i <= t of (1 - d_i / n_i), computed as
-- exp(sum(ln(1 - d_i / n_i))); a day on which every subject at risk has the event (d = n) sets
-- S to exactly 0 from then on instead of taking ln(0). Events on a day count before the
-- censorings of that day (the usual convention).
{%- set curve_days = retention_curve_days() %}
{%- set curve_types = retention_curve_types() %}

with customers as (
    select * from {{ ref('int_retention_customers') }}
),

segments as (
    select * from {{ ref('int_retention_customer_segments') }}
),

as_of as (
    select as_of from {{ ref('int_as_of') }}
),

completed_orders as (
    select
        customer_id,
        order_id,
        ordered_at,
        next_order_at
    from {{ ref('int_completed_orders') }}
),

subjects as (
    {%- if 'first_to_second_order' in curve_types %}
    select
        'first_to_second_order' as curve_type,
        customers.customer_id,
        {{ retention_period_start('month', 'customers.first_order_at') }} as cohort_month,
        {{ retention_whole_days_between(
            'customers.first_order_at', 'coalesce(customers.second_order_at, as_of.as_of)') }} as exit_day,
        customers.second_order_at is not null as is_event
    from customers
    cross join as_of
    {%- endif %}
    {%- if curve_types | length > 1 %}

    union all
    {%- endif %}
    {%- if 'between_orders' in curve_types %}

    select
        'between_orders' as curve_type,
        customers.customer_id,
        {{ retention_period_start('month', 'customers.first_order_at') }} as cohort_month,
        {{ retention_whole_days_between(
            'completed_orders.ordered_at', 'coalesce(completed_orders.next_order_at, as_of.as_of)') }} as exit_day,
        completed_orders.next_order_at is not null as is_event
    from completed_orders
    -- the join keeps the cohort customers only (signed up by as_of), as the other curve does
    inner join customers on completed_orders.customer_id = customers.customer_id
    cross join as_of
    {%- endif %}
),

segmented_subjects as (
    select
        subjects.curve_type,
        segments.segment_type,
        segments.segment_value,
        subjects.customer_id,
        subjects.exit_day,
        subjects.is_event
    from subjects
    inner join segments on subjects.customer_id = segments.customer_id

    union all

    select
        curve_type,
        'cohort_month' as segment_type,
        {{ dbt.cast('cohort_month', dbt.type_string()) }} as segment_value,
        customer_id,
        exit_day,
        is_event
    from subjects
),

segment_sizes as (
    select
        curve_type,
        segment_type,
        segment_value,
        count(*)                    as n_subjects,
        count(distinct customer_id) as n_customers
    from segmented_subjects
    group by 1, 2, 3
),

-- One row per day on which subjects leave the risk set (by event or censoring).
exit_days as (
    select
        curve_type,
        segment_type,
        segment_value,
        exit_day,
        sum(case when is_event then 1 else 0 end)     as n_events,
        sum(case when is_event then 0 else 1 end)     as n_censored,
        count(*)                                       as n_exits
    from segmented_subjects
    group by 1, 2, 3, 4
),

-- n_i = subjects still at risk at the start of day t_i = everyone minus those who left earlier.
risk_sets as (
    select
        exit_days.*,
        segment_sizes.n_subjects
            - sum(exit_days.n_exits) over (
                partition by exit_days.curve_type, exit_days.segment_type, exit_days.segment_value
                order by exit_days.exit_day
                rows between unbounded preceding and current row
            )
            + exit_days.n_exits as n_at_risk
    from exit_days
    inner join segment_sizes
        on exit_days.curve_type = segment_sizes.curve_type
        and exit_days.segment_type = segment_sizes.segment_type
        and exit_days.segment_value = segment_sizes.segment_value
),

km_terms as (
    select
        curve_type,
        segment_type,
        segment_value,
        exit_day,
        0 as is_reading,
        n_events,
        n_censored,
        case when n_events > 0 and n_events < n_at_risk
            then ln(1 - cast(n_events as double) / n_at_risk) else 0 end     as log_survival_term,
        case when n_events > 0 and n_events = n_at_risk then 1 else 0 end   as is_extinction
    from risk_sets
),

reading_days as (
    {{ retention_values_as_rows(curve_days, 'day', 'bigint') }}
),

-- The days to read the step function at, as marker rows in each segment's time line: a running
-- sum up to a marker is the sum over all exit times <= that day (markers sort after exits at
-- the same time, so an event on day 30 counts at day 30).
readings as (
    select
        segment_sizes.curve_type,
        segment_sizes.segment_type,
        segment_sizes.segment_value,
        cast(days.day as bigint) as exit_day,
        1 as is_reading,
        0 as n_events,
        0 as n_censored,
        0 as log_survival_term,
        0 as is_extinction
    from segment_sizes
    cross join reading_days as days
),

time_lines as (
    select
        curve_type,
        segment_type,
        segment_value,
        exit_day,
        is_reading,
        sum(n_events) over (
            partition by curve_type, segment_type, segment_value
            order by exit_day, is_reading
            rows between unbounded preceding and current row
        ) as events_cumulative,
        sum(n_censored) over (
            partition by curve_type, segment_type, segment_value
            order by exit_day, is_reading
            rows between unbounded preceding and current row
        ) as censored_cumulative,
        sum(log_survival_term) over (
            partition by curve_type, segment_type, segment_value
            order by exit_day, is_reading
            rows between unbounded preceding and current row
        ) as log_survival,
        sum(is_extinction) over (
            partition by curve_type, segment_type, segment_value
            order by exit_day, is_reading
            rows between unbounded preceding and current row
        ) as extinctions
    from (
        select * from km_terms
        union all
        select * from readings
    ) as steps
),

curves as (
    select
        time_lines.curve_type,
        time_lines.segment_type,
        time_lines.segment_value,
        time_lines.exit_day as day,
        segment_sizes.n_customers,
        segment_sizes.n_subjects,
        segment_sizes.n_subjects - time_lines.events_cumulative - time_lines.censored_cumulative as at_risk,
        time_lines.events_cumulative,
        time_lines.censored_cumulative,
        -- rounded so that equal estimates compare equal (exp/ln noise is ~1e-16)
        round(case when time_lines.extinctions > 0 then 0 else exp(time_lines.log_survival) end, 10)
            as survival_probability
    from time_lines
    inner join segment_sizes
        on time_lines.curve_type = segment_sizes.curve_type
        and time_lines.segment_type = segment_sizes.segment_type
        and time_lines.segment_value = segment_sizes.segment_value
    where time_lines.is_reading = 1
)

select
    cast(curve_type as {{ dbt.type_string() }})      as curve_type,
    cast(segment_type as {{ dbt.type_string() }})    as segment_type,
    cast(segment_value as {{ dbt.type_string() }})   as segment_value,
    cast(day as bigint)                              as day,
    cast(n_customers as bigint)                      as n_customers,
    cast(n_subjects as bigint)                       as n_subjects,
    cast(at_risk as bigint)                          as at_risk,
    cast(events_cumulative as bigint)                as events_cumulative,
    cast(censored_cumulative as bigint)              as censored_cumulative,
    cast(survival_probability as double)             as survival_probability,
    cast(round(1 - survival_probability, 10) as double) as repurchase_probability
from curves
