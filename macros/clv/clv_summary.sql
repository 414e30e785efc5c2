{#- Per-customer RFM summary in the form BG/NBD and Gamma-Gamma expect, from completed orders
    up to `cutoff` (inclusive), in fractional days:
      frequency      repeat purchases (completed orders after the first)
      recency_days   first -> last completed order
      t_days         first completed order -> cutoff (the model's T)
      monetary_value mean total of the REPEAT orders (Gamma-Gamma excludes the first); null if none
      repeat_order_value_stddev  sample standard deviation of the repeat order totals (null with
                     fewer than two): 0 everywhere means spend does not vary within customers,
                     which Gamma-Gamma cannot fit (ecom_growth.clv.status)
    Used at cutoff = as_of (scoring) and cutoff = as_of - holdout (calibration). -#}
{% macro clv_summary(cutoff) -%}
with orders as (
    select customer_id, ordered_at, order_total, order_number as completed_order_number
    from {{ ref('int_completed_orders') }}
    where ordered_at <= {{ cutoff }}
)

select
    customer_id,
    cast(count(*) - 1 as bigint)                                                   as frequency,
    cast({{ days_between('min(ordered_at)', 'max(ordered_at)') }} as double)       as recency_days,
    cast({{ days_between('min(ordered_at)', cutoff) }} as double)                  as t_days,
    cast(avg(order_total) filter (where completed_order_number > 1) as double)     as monetary_value,
    cast(stddev_samp(order_total) filter (where completed_order_number > 1) as double) as repeat_order_value_stddev,
    cast(avg(order_total) as double)                                               as average_order_value,
    min(ordered_at)                                                                as first_order_at
from orders
group by customer_id
{%- endmacro %}
