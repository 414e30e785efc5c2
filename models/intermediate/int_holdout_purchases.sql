-- Distinct (customer, product) bought in completed orders in each evaluation split's label window:
-- test (as_of - H, as_of], validation (as_of - H - V, as_of - H], H = recommender_holdout_days,
-- V = recommender_validation_days. The windows do not overlap.
{%- set test_cutoff = dbt.dateadd('day', -1 * var('recommender_holdout_days'), as_of()) %}
{%- set validation_days = var('recommender_holdout_days') + var('recommender_validation_days') %}
{%- set validation_cutoff = dbt.dateadd('day', -1 * validation_days, as_of()) %}
select distinct
    case when orders.ordered_at > {{ test_cutoff }} then 'test' else 'validation' end as split,
    orders.customer_id,
    items.product_id
from {{ ref('stg_shop__order_items') }} as items
inner join {{ ref('int_completed_orders') }} as orders
    on items.order_id = orders.order_id
where orders.ordered_at > {{ validation_cutoff }}
  and orders.ordered_at <= {{ as_of() }}
