-- Reviews written up to as_of with their product's category: the input of the text models.
-- Later reviews (a backtest) stay in staging and out of every window.
select
    reviews.review_id,
    reviews.customer_id,
    reviews.product_id,
    products.category,
    reviews.rating,
    reviews.review_text,
    reviews.created_at
from {{ ref('stg_shop__reviews') }} as reviews
cross join {{ ref('int_as_of') }} as as_of
left join {{ ref('stg_shop__products') }} as products
    on reviews.product_id = products.product_id
where reviews.created_at <= as_of.as_of
