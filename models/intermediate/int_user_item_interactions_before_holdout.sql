-- The training side of the recommender's evaluation splits (int_holdout_purchases has the labels):
-- test trains on interactions up to as_of - recommender_holdout_days, validation on
-- interactions up to as_of - recommender_holdout_days - recommender_validation_days.
-- One aggregation per split (macro user_item_interactions with one cutoff each), not the
-- macro's one-pass multi-cutoff form: at 1M customers (33M rows) two half-width hash tables
-- cost 7% less CPU than one pass with both splits' aggregates; the rows are the same.
{%- set test_cutoff = dbt.dateadd('day', -1 * var('recommender_holdout_days'), as_of()) %}
{%- set validation_days = var('recommender_holdout_days') + var('recommender_validation_days') %}
{%- set validation_cutoff = dbt.dateadd('day', -1 * validation_days, as_of()) %}
{%- for split, cutoff in [('validation', validation_cutoff), ('test', test_cutoff)] %}
select {{ sql_literal(split) }} as split, interactions.*
from (
{{ user_item_interactions([{'at': cutoff}]) }}
) as interactions
{%- if not loop.last %}
union all
{%- endif %}
{%- endfor %}
