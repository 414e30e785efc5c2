-- Measured retention offers: one row per campaign and action, the treated sends against the
-- randomised control of the same campaign and action (int_campaign_send_outcomes, full effect
-- windows only). Incremental conversion = difference of conversion rates (Wald CI); incremental
-- revenue per send = difference of mean revenue per send (Welch CI); incremental totals scale
-- the per-send differences to the treated sends. Coupon cost assumes the coupon is redeemed by
-- every treated converter (coupon_value x treated converters). Incremental return on coupon
-- spend = incremental revenue / coupon cost (null without a coupon).
{%- set confidence_level = var('experiment_confidence_level') | float %}
{%- set alpha = 1 - confidence_level %}

with sends as (
    select * from {{ ref('int_campaign_send_outcomes') }}
),

arms as (
    select
        campaign_id,
        action,
        is_control,
        min(sent_at)                                                        as first_sent_at,
        max(coupon_value)                                                   as coupon_value,
        count(*)                                                            as sends,
        count(case when is_converter then 1 end)                            as converters,
        {{ exact_mean('revenue') }}                                         as revenue_per_send,
        {{ exact_cov('revenue', 'revenue') }}                               as revenue_variance
    from sends
    group by campaign_id, action, is_control
),

compared as (
    select
        treated.campaign_id,
        treated.action,
        least(treated.first_sent_at, control.first_sent_at)                 as first_sent_at,
        treated.coupon_value,
        treated.sends                                                       as treated_sends,
        control.sends                                                       as control_sends,
        treated.converters * 1.0 / treated.sends                            as treated_conversion_rate,
        control.converters * 1.0 / control.sends                            as control_conversion_rate,
        treated.converters                                                  as treated_converters,
        treated.revenue_per_send                                            as treated_revenue_per_send,
        control.revenue_per_send                                            as control_revenue_per_send,
        treated.revenue_variance / treated.sends + control.revenue_variance / control.sends
                                                                            as revenue_difference_variance
    from arms as treated
    inner join arms as control
        on treated.campaign_id = control.campaign_id
        and treated.action = control.action
        and not treated.is_control
        and control.is_control
),

tested as (
    select
        compared.*,
        compared.treated_conversion_rate
        - compared.control_conversion_rate                   as incremental_conversion_rate,
        sqrt(compared.treated_conversion_rate * (1 - compared.treated_conversion_rate) / compared.treated_sends
            + compared.control_conversion_rate * (1 - compared.control_conversion_rate) / compared.control_sends)
            as conversion_standard_error,
        compared.treated_revenue_per_send
        - compared.control_revenue_per_send                 as incremental_revenue_per_send,
        sqrt(compared.revenue_difference_variance)                                   as revenue_standard_error,
        {{ normal_quantile(1 - alpha / 2) }}                                as z_critical
    from compared
)

select
    cast(campaign_id as varchar)                                            as campaign_id,
    cast(action as varchar)                                                 as action,
    cast(first_sent_at as timestamp)                                        as first_sent_at,
    cast(coupon_value as double)                                            as coupon_value,
    cast(treated_sends as bigint)                                           as treated_sends,
    cast(control_sends as bigint)                                           as control_sends,
    cast(treated_conversion_rate as double)                                 as treated_conversion_rate,
    cast(control_conversion_rate as double)                                 as control_conversion_rate,
    cast(incremental_conversion_rate as double)                             as incremental_conversion_rate,
    cast(incremental_conversion_rate - z_critical * conversion_standard_error as double)
        as incremental_conversion_ci_low,
    cast(incremental_conversion_rate + z_critical * conversion_standard_error as double)
        as incremental_conversion_ci_high,
    cast({{ two_sided_normal_p_value('incremental_conversion_rate / nullif(conversion_standard_error, 0)') }} as double)
                                                                            as conversion_p_value,
    cast(incremental_conversion_rate * treated_sends as double)             as incremental_conversions,
    cast(treated_revenue_per_send as double)                                as treated_revenue_per_send,
    cast(control_revenue_per_send as double)                                as control_revenue_per_send,
    cast(incremental_revenue_per_send as double)                            as incremental_revenue_per_send,
    cast(incremental_revenue_per_send - z_critical * revenue_standard_error as double)
        as incremental_revenue_per_send_ci_low,
    cast(incremental_revenue_per_send + z_critical * revenue_standard_error as double)
        as incremental_revenue_per_send_ci_high,
    cast(incremental_revenue_per_send * treated_sends as double)            as incremental_revenue,
    cast(coupon_value * treated_converters as double)                       as coupon_cost,
    cast(incremental_revenue_per_send * treated_sends / nullif(coupon_value * treated_converters, 0) as double)
                                                                            as incremental_return_on_coupon_spend,
    cast({{ confidence_level }} as double)                                  as confidence_level
from tested
