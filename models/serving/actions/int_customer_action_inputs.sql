-- Everything an action rule may look at, one row per customer (the columns listed in
-- seeds/_seeds.yml for action_rules). Customers without a churn score (no order in the churn
-- lookback) get risk_tier 'unscored'; without a predicted CLV, clv_tier 'none'.

select
    customers.customer_id,
    customers.acquisition_channel,
    customers.country,
    customers.completed_orders,
    customers.days_since_last_order,
    customers.tenure_days,
    coalesce(
        customers.completed_orders = 1 and customers.tenure_days <= {{ var('new_customer_days') }}, false
    )                                                        as is_new_customer,
    churn.churn_probability,
    coalesce(churn.risk_tier, 'unscored')                    as risk_tier,
    clv.p_alive,
    clv.predicted_clv,
    coalesce(clv.clv_tier, 'none')                           as clv_tier,
    coalesce(segments.rfm_segment, 'no_orders')              as rfm_segment
from {{ ref('dim_customers') }} as customers
left join {{ ref('ml_churn_scores') }} as churn
    on customers.customer_id = churn.customer_id
left join {{ ref('fct_customer_clv') }} as clv
    on customers.customer_id = clv.customer_id
left join {{ ref('ml_customer_segments') }} as segments
    on customers.customer_id = segments.customer_id
