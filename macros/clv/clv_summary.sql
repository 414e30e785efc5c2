{#- Purchase occasions: BG/NBD-family models count repeat purchase PERIODS, not orders (Fader,
    Hardie & Lee 2005; lifetimes' summary_data_from_transaction_data): all completed orders of a
    customer in one var('clv_purchase_period') ('day' by default, or 'week') are one occasion,
    worth their summed order_total and dated at the period's start. 'order' keeps every order as
    its own occasion at its exact time (for data whose orders are already purchase occasions, such
    as the simulator's continuous-time process). Orders in (after, upto] only. -#}
{% macro clv_purchase_occasions(upto, after=none) -%}
{%- set period = var('clv_purchase_period') %}
{%- if period not in ['day', 'week', 'order'] %}
    {{ exceptions.raise_compiler_error("clv_purchase_period must be 'day', 'week' or 'order', got " ~ period) }}
{%- endif %}
{%- set occasion_start = 'ordered_at' if period == 'order' else dbt.date_trunc(period, 'ordered_at') %}
select
    customer_id,
    {{ occasion_start }}                                            as occasion_start_at,
    count(*)                                                        as occasion_orders,
    sum(order_total)                                                as occasion_value
from {{ ref('int_completed_orders') }}
where ordered_at <= {{ upto }}
    {%- if after is not none %}
    and ordered_at > {{ after }}
    {%- endif %}
group by customer_id, {{ 'order_id, ordered_at' if period == 'order' else occasion_start }}
{%- endmacro %}

{#- The end of the model's T: the start of the period holding the cutoff ('order': the cutoff itself). -#}
{% macro clv_period_start(timestamp) -%}
{%- set period = var('clv_purchase_period') -%}
{{ timestamp if period == 'order' else dbt.date_trunc(period, timestamp) }}
{%- endmacro %}

{#- Per-customer RFM summary in the form BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma expect,
    from the purchase occasions up to `cutoff` (inclusive), in days:
      frequency      repeat purchase occasions (occasions after the first)
      recency_days   first -> last occasion (whole periods)
      t_days         first occasion -> the period holding the cutoff (the model's T)
      monetary_value mean value of the REPEAT occasions (Gamma-Gamma excludes the first); null if none
      repeat_order_value_stddev  sample standard deviation of the repeat occasion values (null with
                     fewer than two): 0 everywhere means spend does not vary within customers,
                     which Gamma-Gamma cannot fit (ecom_growth.clv.status)
      average_order_value  mean completed order total (orders, not occasions: historical AOV)
    Used at cutoff = as_of (scoring) and cutoff = as_of - holdout (calibration). -#}
{% macro clv_summary(cutoff) -%}
with occasions as (
    select
        *,
        row_number() over (partition by customer_id order by occasion_start_at) as occasion_number
    from ({{ clv_purchase_occasions(cutoff) }}) as occasions_up_to_cutoff
)

select
    customer_id,
    cast(count(*) - 1 as bigint)                                                        as frequency,
    cast({{ days_between('min(occasion_start_at)', 'max(occasion_start_at)') }} as double) as recency_days,
    cast({{ days_between('min(occasion_start_at)', clv_period_start(cutoff)) }} as double) as t_days,
    cast(avg(occasion_value) filter (where occasion_number > 1) as double)             as monetary_value,
    cast(stddev_samp(occasion_value) filter (where occasion_number > 1) as double)     as repeat_order_value_stddev,
    cast(sum(occasion_value) / sum(occasion_orders) as double)                         as average_order_value,
    min(occasion_start_at)                                                              as first_order_at
from occasions
group by customer_id
{%- endmacro %}
