-- Distinct (customer, product) bought in completed orders during the holdout window
-- (as_of - recommender_holdout_days, as_of]: the test side of the recommender's temporal holdout.
select distinct
    orders.customer_id,
    items.product_id
from {{ ref('stg_shop__order_items') }} as items
inner join {{ ref('int_orders') }} as orders
    on items.order_id = orders.order_id
where orders.is_completed
  and orders.ordered_at > {{ dbt.dateadd('day', -1 * var('recommender_holdout_days'), as_of()) }}
