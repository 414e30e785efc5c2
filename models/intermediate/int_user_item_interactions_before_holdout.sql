-- The same interactions, but only up to as_of - recommender_holdout_days: the training side of
-- the recommender's temporal holdout (int_holdout_purchases is the test side).
{{ user_item_interactions(dbt.dateadd('day', -1 * var('recommender_holdout_days'), as_of())) }}
