-- The CLV models' evaluation inputs, one block per split (macro clv_evaluation_windows):
-- the summary up to the split's cutoff (calibration period) and the purchase occasions each
-- customer actually had in its label window (cutoff, label_end].
{%- set windows = clv_evaluation_windows() %}
with
{%- for window in windows %}
calibration_{{ window.split }} as (
    {{ clv_summary(window.cutoff) }}
),

labels_{{ window.split }} as (
    select
        customer_id,
        count(*)            as holdout_purchases,
        sum(occasion_value) as holdout_revenue
    from ({{ clv_purchase_occasions(window.label_end, after=window.cutoff) }}) as label_occasions
    group by customer_id
),

split_{{ window.split }} as (
    select
        '{{ window.split }}'                                                        as split,
        calibration_{{ window.split }}.*,
        cast(coalesce(labels_{{ window.split }}.holdout_purchases, 0) as bigint)   as holdout_purchases,
        cast(coalesce(labels_{{ window.split }}.holdout_revenue, 0) as double)     as holdout_revenue,
        cast({{ days_between(window.cutoff, window.label_end) }} as double)        as holdout_days,
        cast({{ window.cutoff }} as timestamp)                                     as calibration_end_at,
        cast({{ window.label_end }} as timestamp)                                  as holdout_end_at
    from calibration_{{ window.split }}
    left join labels_{{ window.split }}
        on calibration_{{ window.split }}.customer_id = labels_{{ window.split }}.customer_id
){{ ',' if not loop.last }}
{%- endfor %}

{{ clv_union_splits(windows) }}
