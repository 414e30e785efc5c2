-- One row per acquisition channel: its economics pooled over the signup months whose numbers
-- are final, i.e. ratios of sums over fct_channel_acquisition's cells (never an average of
-- monthly ratios, which would over-weight small months).
--   * counts, spend, conversion rate and CAC: months with a complete conversion window;
--   * revenue per customer over N days: months where the mart reports it (every acquired
--     customer observed N days), from the unrounded customer revenue;
--   * ltv_to_cac_180d: revenue within 180 days / spend over those same 180-day months, so the
--     numerator and the denominator describe the same customers.
{%- set revenue_windows_days = acquisition_revenue_windows_days() %}

with cells as (
    select * from {{ ref('fct_channel_acquisition') }}
),

acquired_customers as (
    select * from {{ ref('int_acquisition_customers') }}
    where is_converted
),

complete as (
    select
        acquisition_channel,
        bool_or(is_paid_channel)                                             as is_paid_channel,
        count(*) filter (where is_conversion_window_complete)                as complete_months,
        min(signup_month) filter (where is_conversion_window_complete)       as first_complete_signup_month,
        max(signup_month) filter (where is_conversion_window_complete)       as last_complete_signup_month,
        sum(signups) filter (where is_conversion_window_complete)            as signups,
        sum(converted_customers) filter (where is_conversion_window_complete) as converted_customers,
        sum(spend) filter (where is_conversion_window_complete)              as spend
    from cells
    group by acquisition_channel
),

revenue as (
    select
        cells.acquisition_channel
        {%- for days in revenue_windows_days %},
        sum(acquired_customers.revenue_{{ days }}d) filter (where cells.revenue_per_customer_{{ days }}d is not null)
            / nullif(count(*) filter (where cells.revenue_per_customer_{{ days }}d is not null), 0)
                                                                             as revenue_per_customer_{{ days }}d
        {%- endfor %},
        sum(acquired_customers.revenue_180d) filter (where cells.revenue_per_customer_180d is not null)
                                                                             as revenue_180d_observed
    from cells
    inner join acquired_customers
        on cells.acquisition_channel = acquired_customers.acquisition_channel
        and cells.signup_month = acquired_customers.signup_month
    group by cells.acquisition_channel
),

spend_180d_months as (
    select
        acquisition_channel,
        sum(spend) filter (where revenue_per_customer_180d is not null)      as spend_180d_observed
    from cells
    group by acquisition_channel
)

select
    cast(complete.acquisition_channel as varchar)                            as acquisition_channel,
    cast(complete.is_paid_channel as boolean)                                as is_paid_channel,
    cast(complete.complete_months as bigint)                                 as complete_months,
    cast(complete.first_complete_signup_month as date)                       as first_complete_signup_month,
    cast(complete.last_complete_signup_month as date)                        as last_complete_signup_month,
    cast(coalesce(complete.signups, 0) as bigint)                            as signups,
    cast(coalesce(complete.converted_customers, 0) as bigint)                as converted_customers,
    cast(complete.converted_customers * 1.0 / nullif(complete.signups, 0) as double) as conversion_rate,
    cast(complete.spend as decimal(18, 2))                                   as spend,
    cast(complete.spend / nullif(complete.converted_customers, 0) as decimal(18, 2)) as cac,
    cast(complete.spend / nullif(complete.signups, 0) as decimal(18, 2))     as cac_per_signup,
    {%- for days in revenue_windows_days %}
    cast(revenue.revenue_per_customer_{{ days }}d as decimal(18, 2))         as revenue_per_customer_{{ days }}d,
    {%- endfor %}
    cast(revenue.revenue_180d_observed / nullif(spend_180d_months.spend_180d_observed, 0) as double) as ltv_to_cac_180d
from complete
left join revenue on complete.acquisition_channel = revenue.acquisition_channel
left join spend_180d_months on complete.acquisition_channel = spend_180d_months.acquisition_channel
