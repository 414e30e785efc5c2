{#- Data tests that restate the churn definition independently of int_churn_snapshots' SQL
    (exists-style, straight from staging), so a join or filter slip in the model shows up
    as rows here. Both honour the as_of cap. -#}

{#- (customer, snapshot) pairs missing from, or wrongly in, the population: customers with
    >= 1 completed order in [snapshot_at - churn_lookback_days, snapshot_at), up to as_of. -#}
{% test churn_population_matches_definition(model) %}
with snapshots as (
    select snapshot_date, snapshot_at, as_of
    from {{ ref('int_churn_snapshot_dates') }}
),

expected as (
    select distinct orders.customer_id, snapshots.snapshot_date
    from {{ ref('stg_shop__orders') }} as orders
    inner join snapshots
        on orders.ordered_at < snapshots.snapshot_at
        and orders.ordered_at >= {{ dbt.dateadd('day', -churn_var('churn_lookback_days'), 'snapshots.snapshot_at') }}
        and orders.ordered_at <= snapshots.as_of
    where orders.order_status = 'completed'
),

actual as (
    select customer_id, snapshot_date from {{ model }}
)

select 'missing from the population' as problem, missing.*
from (select * from expected except select * from actual) as missing
union all
select 'not in the population by definition' as problem, unexpected.*
from (select * from actual except select * from expected) as unexpected
{% endtest %}

{#- Rows whose is_churned disagrees with the definition: 0 iff a completed order in
    [snapshot_at, snapshot_at + churn_window_days) up to as_of; null on the scoring snapshot. -#}
{% test churn_label_matches_definition(model) %}
with snapshots as (
    select snapshot_date, snapshot_at, is_scoring_snapshot, as_of
    from {{ ref('int_churn_snapshot_dates') }}
),

expected as (
    select
        snapshot_rows.customer_id,
        snapshot_rows.snapshot_date,
        snapshot_rows.is_churned,
        case
            when snapshots.is_scoring_snapshot then null
            when exists (
                select 1
                from {{ ref('stg_shop__orders') }} as orders
                where orders.customer_id = snapshot_rows.customer_id
                    and orders.order_status = 'completed'
                    and orders.ordered_at >= snapshots.snapshot_at
                    and orders.ordered_at < {{ dbt.dateadd('day', churn_var('churn_window_days'), 'snapshots.snapshot_at') }}
                    and orders.ordered_at <= snapshots.as_of
            ) then 0
            else 1
        end as expected_is_churned
    from {{ model }} as snapshot_rows
    inner join snapshots on snapshot_rows.snapshot_date = snapshots.snapshot_date
)

select *
from expected
where not (is_churned = expected_is_churned or (is_churned is null and expected_is_churned is null))
{% endtest %}
