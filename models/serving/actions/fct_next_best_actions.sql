-- Exactly one next-best action per customer, chosen by the first matching rule of
-- seeds/action_rules.csv (compiled to SQL by compile_action_rules: edit the seed, not this file).
{%- set rule_columns = ['acquisition_channel', 'country', 'completed_orders', 'days_since_last_order', 'tenure_days',
                        'is_new_customer', 'churn_probability', 'risk_tier', 'p_alive', 'predicted_clv', 'clv_tier', 'rfm_segment'] %}
with inputs as (
    select * from {{ ref('int_customer_action_inputs') }}
),

matched as (
    select
        inputs.*,
        {{ compile_action_rules(ref('action_rules'), rule_columns) }} as rule_id
    from inputs
),

top_recommendations as (
    select
        customer_id,
        max(product_id) filter (where rank = 1) as recommended_product_1,
        max(product_id) filter (where rank = 2) as recommended_product_2,
        max(product_id) filter (where rank = 3) as recommended_product_3
    from {{ ref('ml_recommendations') }}
    where rank <= 3
    group by customer_id
),

rules as (
    select * from {{ ref('action_rules') }}
),

-- The ML inputs' statuses: a degraded model still gives every customer an action (from its
-- fallback values), and this table says so.
upstream as (
    {{ upstream_status(['ml_churn_scores', 'ml_clv_predictions', 'ml_customer_segments', 'ml_recommendations']) }}
)

select
    matched.customer_id,
    matched.rule_id,
    coalesce(rules.action, 'no_action')                                        as action,
    coalesce(rules.description, 'no rule matched')                             as reason,
    cast(coalesce(rules.coupon_value, 0) as double)                            as coupon_value,
    replace(replace(coalesce(rules.message_template, ''),
        '{coupon_value}', cast(cast(coalesce(rules.coupon_value, 0) as integer) as varchar)),
        '{product_1}', coalesce(top_recommendations.recommended_product_1, 'our bestsellers'))
                                                                                as message,
    top_recommendations.recommended_product_1,
    top_recommendations.recommended_product_2,
    top_recommendations.recommended_product_3,
    matched.risk_tier,
    matched.churn_probability,
    matched.clv_tier,
    matched.predicted_clv,
    matched.rfm_segment,
    cast(coalesce(matched.churn_probability, 0) * coalesce(matched.predicted_clv, 0) as decimal(18, 2))
                                                                                as expected_value_at_stake,
    -- Randomised holdout (control group) per action: a hash of the campaign key, the action and
    -- the customer, so it is stable across rebuilds and recomputable; never for 'no_action'.
    {%- set campaign_key = var('next_best_action_campaign_key') | string | replace("'", "''") %}
    coalesce(rules.action, 'no_action') <> 'no_action'
    and {{ hash_uniform(
        "'" ~ campaign_key ~ ":' || coalesce(rules.action, 'no_action') || ':' || matched.customer_id"
    ) }} < {{ var('next_best_action_holdout_share') | float }}                 as is_holdout,
    {{ as_of() }}                                                               as as_of,
    upstream.status,
    upstream.status_reason
from matched
cross join upstream
left join rules on matched.rule_id = rules.rule_id
left join top_recommendations on matched.customer_id = top_recommendations.customer_id
