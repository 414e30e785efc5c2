-- One row per split x calibration customer (a completed order up to the split's cutoff) x
-- purchase occasion in the split's label window (cutoff, label_end] (macro
-- clv_evaluation_windows): when and how much, so ml_clv_evaluation can show the error per
-- calendar month.
{%- set windows = clv_evaluation_windows() %}
with
{%- for window in windows %}
occasions_{{ window.split }} as (
    {{ clv_purchase_occasions(window.label_end, after=window.cutoff) }}
),

customers_{{ window.split }} as (
    select distinct customer_id
    from {{ ref('int_completed_orders') }}
    where ordered_at <= {{ window.cutoff }}
),

split_{{ window.split }} as (
    select
        '{{ window.split }}'                                                        as split,
        occasions_{{ window.split }}.customer_id,
        occasions_{{ window.split }}.occasion_start_at,
        cast({{ dbt.date_trunc('month', 'occasions_' ~ window.split ~ '.occasion_start_at') }} as date)
                                                                                    as holdout_month,
        cast(occasions_{{ window.split }}.occasion_orders as bigint)                as occasion_orders,
        cast(occasions_{{ window.split }}.occasion_value as double)                 as occasion_value
    from occasions_{{ window.split }}
    inner join customers_{{ window.split }}
        on occasions_{{ window.split }}.customer_id = customers_{{ window.split }}.customer_id
){{ ',' if not loop.last }}
{%- endfor %}

{{ clv_union_splits(windows) }}
