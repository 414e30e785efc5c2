-- One row per customer with at least one completed order up to as_of: historical CLV (what the
-- customer has been worth, decomposed as average order value x purchase frequency x lifespan)
-- beside the predicted CLV of the selected purchase model + Gamma-Gamma (ml_clv_predictions),
-- total CLV, the expected next order date and a tier (a Klaviyo-style predictive profile).
-- Serving layer: reads a mart and an ML table. A degraded CLV model still gives every customer
-- a prediction (the documented fallback); status / status_reason say so.
{%- set min_tenure_days = var('clv_min_tenure_days', 30) %}
{%- set high_share = var('clv_tier_high_share', 0.2) %}
{%- set medium_share = var('clv_tier_medium_share', 0.3) %}
{%- if not (0 <= high_share and 0 <= medium_share and high_share + medium_share <= 1) %}
    {{ exceptions.raise_compiler_error("clv_tier_high_share and clv_tier_medium_share must be >= 0 and add up to at most 1") }}
{%- endif %}
{%- if not min_tenure_days > 0 %}
    {{ exceptions.raise_compiler_error("clv_min_tenure_days must be > 0") }}
{%- endif %}

with customers as (
    select *
    from {{ ref('dim_customers') }}
    where completed_orders >= 1
),

predictions as (
    select * from {{ ref('ml_clv_predictions') }}
),

historical as (
    select
        customer_id,
        coalesce(acquisition_channel, 'unknown')                                 as acquisition_channel,
        cohort_month,
        first_order_at,
        last_order_at,
        completed_orders,
        revenue                                                                  as historical_revenue,
        tenure_days,
        -- Observed lifespan so far; floored so a customer acquired yesterday does not read as
        -- buying hundreds of times a year.
        greatest(tenure_days, {{ min_tenure_days }}) / 365.25                    as lifespan_years
    from customers
),

decomposed as (
    select
        *,
        cast(historical_revenue as double) / completed_orders                    as average_order_value_exact,
        completed_orders / lifespan_years                                        as purchase_frequency_per_year
    from historical
),

scored as (
    select
        decomposed.*,
        predictions.p_alive,
        predictions.expected_purchases_30d,
        predictions.expected_purchases_90d,
        predictions.expected_purchases_365d,
        predictions.expected_average_order_value,
        predictions.predicted_clv,
        predictions.horizon_days,
        predictions.expected_purchases_horizon,
        predictions.expected_days_to_next_order,
        predictions.expected_next_order_at,
        predictions.average_days_between_orders,
        predictions.purchase_model,
        predictions.gross_margin,
        predictions.has_minimum_data,
        predictions.status                                                       as prediction_status,
        predictions.status_reason                                                as prediction_status_reason,
        -- Share of customers whose predicted CLV is >= this one's: ties share a tier.
        case when predictions.predicted_clv is not null then
            cume_dist() over (
                partition by predictions.predicted_clv is null
                order by predictions.predicted_clv desc
            )
        end                                                                      as predicted_clv_top_share
    from decomposed
    left join predictions on decomposed.customer_id = predictions.customer_id
)

select
    customer_id,
    acquisition_channel,
    cohort_month,
    first_order_at,
    last_order_at,
    cast(completed_orders as bigint)                                             as completed_orders,
    cast(historical_revenue as decimal(18, 2))                                   as historical_revenue,
    cast(tenure_days as double)                                                  as tenure_days,
    cast(average_order_value_exact as decimal(18, 2))                            as average_order_value,
    cast(purchase_frequency_per_year as double)                                  as purchase_frequency_per_year,
    cast(lifespan_years as double)                                               as customer_lifespan_years,
    cast(average_order_value_exact * purchase_frequency_per_year * lifespan_years as decimal(18, 2)) as historical_clv,
    cast(p_alive as double)                                                      as p_alive,
    cast(expected_purchases_30d as double)                                       as expected_purchases_30d,
    cast(expected_purchases_90d as double)                                       as expected_purchases_90d,
    cast(expected_purchases_365d as double)                                      as expected_purchases_365d,
    cast(expected_average_order_value as decimal(18, 2))                         as expected_average_order_value,
    cast(predicted_clv as decimal(18, 2))                                        as predicted_clv,
    cast(horizon_days as bigint)                                                 as predicted_clv_horizon_days,
    cast(predicted_clv_top_share as double)                                      as predicted_clv_top_share,
    cast(expected_purchases_horizon as double)                                   as predicted_orders_horizon,
    cast(gross_margin * cast(historical_revenue as double) + predicted_clv as decimal(18, 2)) as total_clv,
    cast(expected_next_order_at as timestamp)                                    as expected_next_order_at,
    cast(expected_days_to_next_order as double)                                  as expected_days_to_next_order,
    cast(average_days_between_orders as double)                                  as average_days_between_orders,
    cast(purchase_model as varchar)                                              as purchase_model,
    cast(has_minimum_data as boolean)                                            as has_minimum_data,
    cast(
        case
            when predicted_clv_top_share is null then null
            when predicted_clv_top_share <= {{ high_share }} then 'high'
            when predicted_clv_top_share <= {{ high_share + medium_share }} then 'medium'
            else 'low'
        end as varchar
    )                                                                            as clv_tier,
    cast({{ as_of() }} as timestamp)                                             as as_of,
    cast(coalesce(prediction_status, 'ok') as varchar)                           as status,
    cast(prediction_status_reason as varchar)                                    as status_reason
from scored
