-- The training side of the recommender's evaluation splits (int_holdout_purchases has the labels):
-- test trains on interactions up to as_of - recommender_holdout_days, validation on
-- interactions up to as_of - recommender_holdout_days - recommender_validation_days.
{%- set test_cutoff = dbt.dateadd('day', -1 * var('recommender_holdout_days'), as_of()) %}
{%- set validation_cutoff = dbt.dateadd('day', -1 * (var('recommender_holdout_days') + var('recommender_validation_days')), as_of()) %}
with test_train as (
    {{ user_item_interactions(test_cutoff) }}
),

validation_train as (
    {{ user_item_interactions(validation_cutoff) }}
)

select 'validation' as split, * from validation_train
union all
select 'test' as split, * from test_train
