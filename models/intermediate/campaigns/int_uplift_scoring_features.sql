-- One row per customer with a completed order: the uplift model's features as of the build
-- (orders up to and including as_of; feature_at = as_of + 1 second so the macro's strict
-- "before" keeps the orders at as_of itself), the same definition as at send time.
with population as (
    select
        customer_id,
        {{ dbt.dateadd('second', 1, as_of()) }}      as feature_at
    from {{ ref('int_completed_orders') }}
    group by customer_id
)

{{ uplift_features('population', ['customer_id', 'feature_at']) }}
