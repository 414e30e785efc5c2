-- One row per send of int_campaign_send_outcomes (full effect window): the outcome and the
-- customer's features at send time, from completed orders strictly before sent_at (macro
-- uplift_features): what an uplift model may learn from.
with population as (
    select
        campaign_id,
        customer_id,
        sent_at                         as feature_at,
        action,
        coupon_value,
        is_control,
        is_converter,
        revenue
    from {{ ref('int_campaign_send_outcomes') }}
)

{{ uplift_features('population', [
    'campaign_id', 'customer_id', 'feature_at', 'action', 'coupon_value', 'is_control', 'is_converter', 'revenue',
]) }}
