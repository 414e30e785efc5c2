-- The CLV model's holdout check: inputs up to as_of - clv_holdout_days (calibration period) and
-- the completed orders each customer actually placed in the holdout (cutoff, as_of].
{%- set cutoff = dbt.dateadd('day', -1 * var('clv_holdout_days'), as_of()) %}
with calibration as (
    {{ clv_summary(cutoff) }}
),

holdout as (
    select customer_id, count(*) as holdout_purchases
    from {{ ref('int_orders') }}
    where is_completed
      and ordered_at > {{ cutoff }}
    group by customer_id
)

select
    calibration.*,
    cast(coalesce(holdout.holdout_purchases, 0) as bigint) as holdout_purchases,
    cast({{ days_between(cutoff, as_of()) }} as double)    as holdout_days
from calibration
left join holdout on calibration.customer_id = holdout.customer_id
