-- One row per catalogue product with sales (completed orders up to as_of) and review stats.
with sales as (
    select
        product_id,
        count(distinct order_id)                  as completed_orders,
        sum(quantity)                             as units_sold,
        sum(line_total)                           as revenue,
        count(distinct customer_id)               as buyers,
        min(ordered_at)                           as first_sold_at,
        max(ordered_at)                           as last_sold_at
    from {{ ref('fct_order_items') }}
    where is_completed
    group by product_id
),

buyer_orders as (
    -- a repeat buyer of a product bought it in two or more distinct completed orders
    select product_id, customer_id, count(distinct order_id) as orders_with_product
    from {{ ref('fct_order_items') }}
    where is_completed
    group by product_id, customer_id
),

repeat_buyers as (
    select product_id, count(*) filter (where orders_with_product >= 2) as repeat_buyers
    from buyer_orders
    group by product_id
),

reviews as (
    select product_id, count(*) as review_count, avg(rating) as average_rating
    from {{ ref('stg_shop__reviews') }}
    where created_at <= {{ as_of() }}
    group by product_id
)

select
    products.product_id,
    products.category,
    products.brand,
    cast(products.list_price as decimal(18, 2))                               as list_price,
    cast(coalesce(sales.completed_orders, 0) as bigint)                       as completed_orders,
    cast(coalesce(sales.units_sold, 0) as bigint)                             as units_sold,
    cast(coalesce(sales.revenue, 0) as decimal(18, 2))                        as revenue,
    cast(coalesce(sales.buyers, 0) as bigint)                                 as buyers,
    cast(coalesce(repeat_buyers.repeat_buyers, 0) as bigint)                  as repeat_buyers,
    cast(repeat_buyers.repeat_buyers / nullif(sales.buyers, 0) as double)     as repeat_purchase_rate,
    cast(coalesce(reviews.review_count, 0) as bigint)                         as review_count,
    cast(reviews.average_rating as double)                                    as average_rating,
    sales.first_sold_at,
    sales.last_sold_at
from {{ ref('stg_shop__products') }} as products
left join sales on products.product_id = sales.product_id
left join repeat_buyers on products.product_id = repeat_buyers.product_id
left join reviews on products.product_id = reviews.product_id
