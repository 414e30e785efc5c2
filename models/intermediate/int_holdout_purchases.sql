-- Distinct (customer, product) bought in completed orders in each evaluation split's label window,
-- at the as_of of the evaluation snapshot (int_evaluation_snapshots, as the training side):
-- test (as_of - H, as_of], validation (as_of - H - V, as_of - H], H = recommender_holdout_days,
-- V = recommender_validation_days. The windows do not overlap, and each starts where its split's
-- training interactions end. Kept or replaced with the training side (pre-hook).
{{ config(materialized='incremental', on_schema_change='sync_all_columns',
          pre_hook="{{ evaluation_snapshot_replace() }}") }}
{% call evaluation_snapshot_rows() %}
with snapshot as (
    select as_of, test_cutoff_at, validation_cutoff_at, settings_digest
    from {{ ref('int_evaluation_snapshots') }}
    where evaluation = 'recommender'
)

select distinct
    case when orders.ordered_at > snapshot.test_cutoff_at then 'test' else 'validation' end as split,
    orders.customer_id,
    items.product_id,
    snapshot.as_of,
    snapshot.settings_digest
from {{ ref('stg_shop__order_items') }} as items
inner join {{ ref('int_completed_orders') }} as orders
    on items.order_id = orders.order_id
inner join snapshot
    on orders.ordered_at > snapshot.validation_cutoff_at
    and orders.ordered_at <= snapshot.as_of
{%- endcall %}
