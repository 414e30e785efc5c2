-- The training side of the recommender's evaluation splits (int_holdout_purchases has the labels):
-- test trains on interactions up to as_of - recommender_holdout_days, validation on
-- interactions up to as_of - recommender_holdout_days - recommender_validation_days.
-- Both splits come from one pass over the signals (see macro user_item_interactions).
{%- set test_cutoff = dbt.dateadd('day', -1 * var('recommender_holdout_days'), as_of()) %}
{%- set validation_days = var('recommender_holdout_days') + var('recommender_validation_days') %}
{%- set validation_cutoff = dbt.dateadd('day', -1 * validation_days, as_of()) %}
{{ user_item_interactions([{'split': 'validation', 'at': validation_cutoff}, {'split': 'test', 'at': test_cutoff}]) }}
