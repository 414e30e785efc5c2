-- One row per calibration customer x purchase occasion in the holdout (as_of - clv_holdout_days,
-- as_of]: when and how much, so ml_clv_evaluation can show the error per calendar month.
{%- set cutoff = dbt.dateadd('day', -1 * var('clv_holdout_days'), as_of()) %}
with holdout_occasions as (
    {{ clv_purchase_occasions(as_of(), after=cutoff) }}
),

calibration_customers as (
    select distinct customer_id
    from {{ ref('int_completed_orders') }}
    where ordered_at <= {{ cutoff }}
)

select
    holdout_occasions.customer_id,
    holdout_occasions.occasion_start_at,
    cast({{ dbt.date_trunc('month', 'holdout_occasions.occasion_start_at') }} as date) as holdout_month,
    cast(holdout_occasions.occasion_orders as bigint)                                  as occasion_orders,
    cast(holdout_occasions.occasion_value as double)                                   as occasion_value
from holdout_occasions
inner join calibration_customers on holdout_occasions.customer_id = calibration_customers.customer_id
