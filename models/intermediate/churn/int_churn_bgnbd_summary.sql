-- BG/NBD inputs per snapshot, for the churn model's BG/NBD candidate: for every snapshot date
-- and every customer with a completed order before snapshot_at (not only the churn
-- population: BG/NBD is fitted on every customer, dead ones included, or the dropout would be
-- underestimated), the repeat-purchase summary at snapshot_at, aggregated to counts.
--
-- frequency = completed orders before snapshot_at - 1 (the same orders_count as
-- int_churn_snapshots), recency = days from the first to the last of them, T = days from the
-- first to snapshot_at. Days are rounded to whole days here, which collapses millions of
-- customers to tens of thousands of (frequency, recency, T) rows; the fit is a weighted
-- likelihood over them. Only rows before snapshot_at (and up to as_of) are read.
with snapshots as (
    select snapshot_date, snapshot_at, as_of
    from {{ ref('int_churn_snapshot_dates') }}
),

completed as (
    select customer_id, ordered_at
    from {{ ref('stg_shop__orders') }}
    where order_status = 'completed'
        and ordered_at <= (select max(as_of) from snapshots)
),

per_customer as (
    select
        snapshots.snapshot_date,
        completed.customer_id,
        count(*) - 1                                                                as frequency,
        round({{ days_between('min(completed.ordered_at)', 'max(completed.ordered_at)') }}, 0) as recency_days,
        round({{ days_between('min(completed.ordered_at)', 'min(snapshots.snapshot_at)') }}, 0) as t_days
    from completed
    inner join snapshots
        on completed.ordered_at < snapshots.snapshot_at
    group by snapshots.snapshot_date, completed.customer_id
)

select
    cast(snapshot_date as date)                    as snapshot_date,
    cast(frequency as {{ dbt.type_bigint() }})     as frequency,
    cast(recency_days as double)                   as recency_days,
    cast(t_days as double)                         as t_days,
    cast(count(*) as {{ dbt.type_bigint() }})      as n_customers
from per_customer
group by snapshot_date, frequency, recency_days, t_days
