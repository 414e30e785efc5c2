-- The CLV models' holdout check: inputs up to as_of - clv_holdout_days (calibration period) and
-- the purchase occasions each customer actually had in the holdout (cutoff, as_of].
{%- set cutoff = dbt.dateadd('day', -1 * var('clv_holdout_days'), as_of()) %}
with calibration as (
    {{ clv_summary(cutoff) }}
),

holdout as (
    select
        customer_id,
        count(*)            as holdout_purchases,
        sum(occasion_value) as holdout_revenue
    from ({{ clv_purchase_occasions(as_of(), after=cutoff) }}) as holdout_occasions
    group by customer_id
)

select
    calibration.*,
    cast(coalesce(holdout.holdout_purchases, 0) as bigint)    as holdout_purchases,
    cast(coalesce(holdout.holdout_revenue, 0) as double)      as holdout_revenue,
    cast({{ days_between(cutoff, as_of()) }} as double)       as holdout_days
from calibration
left join holdout on calibration.customer_id = holdout.customer_id
