-- Channel economics per acquisition channel and signup month: how many signed up, how many
-- were acquired (first completed order within var conversion_window_days), what the channel
-- spent that calendar month, the cost per acquired customer, and what those customers brought
-- in afterwards (revenue, not margin: the raw data has no cost of goods).
-- Numbers that can still change are flagged or null: conversions until the conversion window
-- has closed (is_conversion_window_complete), revenue per customer until every acquired
-- customer of the cell has been observed for the whole window.
{%- set conversion_window_days = var('conversion_window_days') %}
{%- set revenue_windows_days = acquisition_revenue_windows_days() %}

with acquisition_customers as (
    select * from {{ ref('int_acquisition_customers') }}
),

signup_cells as (
    select
        acquisition_channel,
        signup_month,
        count(*)                                              as signups,
        count(*) filter (where is_converted)                  as converted_customers,
        max(first_order_at) filter (where is_converted)       as last_first_order_at
        {%- for days in revenue_windows_days %},
        sum(revenue_{{ days }}d) filter (where is_converted)  as revenue_{{ days }}d
        {%- endfor %}
    from acquisition_customers
    group by acquisition_channel, signup_month
),

spend as (
    select
        channel                                               as acquisition_channel,
        cast({{ dbt.date_trunc('month', 'spend_date') }} as date) as signup_month,
        sum(spend)                                            as spend
    from {{ ref('stg_shop__marketing_spend') }}
    where spend_date <= {{ as_of_date() }}
    group by channel, {{ dbt.date_trunc('month', 'spend_date') }}
),

paid_channels as (
    -- A channel is paid when it has any spend row up to as_of; for those, a month without
    -- spend rows has spend 0. Unpaid channels (organic, referral, ...) have spend null, so
    -- their CAC is null rather than a misleading 0.
    select distinct acquisition_channel from spend
),

cells as (
    -- Full outer join: spend in a month without signups still shows up (signups 0).
    select
        coalesce(signup_cells.acquisition_channel, spend.acquisition_channel) as acquisition_channel,
        coalesce(signup_cells.signup_month, spend.signup_month)               as signup_month,
        coalesce(signup_cells.signups, 0)                                     as signups,
        coalesce(signup_cells.converted_customers, 0)                         as converted_customers,
        signup_cells.last_first_order_at,
        {%- for days in revenue_windows_days %}
        signup_cells.revenue_{{ days }}d,
        {%- endfor %}
        spend.spend
    from signup_cells
    full outer join spend
        on signup_cells.acquisition_channel = spend.acquisition_channel
        and signup_cells.signup_month = spend.signup_month
),

measured as (
    select
        cells.acquisition_channel,
        cells.signup_month,
        paid_channels.acquisition_channel is not null                         as is_paid_channel,
        cells.signups,
        cells.converted_customers,
        -- The last signup of the month (up to the start of the next month) has had its full
        -- conversion window by as_of.
        {{ dbt.dateadd('day', conversion_window_days, dbt.dateadd('month', 1, 'cells.signup_month')) }}
            <= {{ as_of() }}                                                  as is_conversion_window_complete,
        case when paid_channels.acquisition_channel is not null
            then coalesce(cells.spend, 0) end                                 as spend,
        cells.last_first_order_at
        {%- for days in revenue_windows_days %},
        cells.revenue_{{ days }}d
        {%- endfor %}
    from cells
    left join paid_channels on cells.acquisition_channel = paid_channels.acquisition_channel
),

per_customer as (
    select
        measured.*,
        measured.spend / nullif(measured.converted_customers, 0)              as cac_exact
        {%- for days in revenue_windows_days %},
        -- Only once every acquired customer of the cell has been observed for N full days
        -- (and no further customer can still convert): otherwise the average is biased low.
        case when measured.is_conversion_window_complete
                and {{ dbt.dateadd('day', days, 'measured.last_first_order_at') }} <= {{ as_of() }}
            then measured.revenue_{{ days }}d / measured.converted_customers
        end                                                                   as revenue_per_customer_{{ days }}d
        {%- endfor %}
    from measured
),

payback as (
    -- First month (30-day periods since each customer's first order) in which cumulative
    -- revenue per acquired customer reaches the CAC, provided that month has been observed
    -- for every acquired customer of the cell; if the first such month is not yet fully
    -- observed, payback is not yet known (null).
    select
        per_customer.acquisition_channel,
        per_customer.signup_month,
        min(payback_months.months_since_first_order)                          as payback_month
    from per_customer
    inner join {{ ref('int_acquisition_payback_months') }} as payback_months
        on per_customer.acquisition_channel = payback_months.acquisition_channel
        and per_customer.signup_month = payback_months.signup_month
    where per_customer.is_conversion_window_complete
        and per_customer.cac_exact is not null
        and payback_months.cumulative_revenue / per_customer.converted_customers >= per_customer.cac_exact
    group by per_customer.acquisition_channel, per_customer.signup_month
)

select
    cast(per_customer.acquisition_channel as varchar)                         as acquisition_channel,
    cast(per_customer.signup_month as date)                                   as signup_month,
    cast(per_customer.is_paid_channel as boolean)                             as is_paid_channel,
    cast(per_customer.signups as bigint)                                      as signups,
    cast(per_customer.converted_customers as bigint)                          as converted_customers,
    cast(per_customer.converted_customers * 1.0 / nullif(per_customer.signups, 0) as double) as conversion_rate,
    cast(per_customer.is_conversion_window_complete as boolean)               as is_conversion_window_complete,
    cast(per_customer.spend as decimal(18, 2))                                as spend,
    cast(per_customer.cac_exact as decimal(18, 2))                            as cac,
    cast(per_customer.spend / nullif(per_customer.signups, 0) as decimal(18, 2)) as cac_per_signup,
    {%- for days in revenue_windows_days %}
    cast(per_customer.revenue_per_customer_{{ days }}d as decimal(18, 2))    as revenue_per_customer_{{ days }}d,
    {%- endfor %}
    cast(per_customer.revenue_per_customer_180d / nullif(per_customer.cac_exact, 0) as double) as ltv_to_cac_180d,
    -- Checked against observation: a payback month m counts only if m * 30 days after the last
    -- first order of the cell is on or before as_of.
    cast(case
        when {{ dbt.dateadd('day', '30 * payback.payback_month', 'per_customer.last_first_order_at') }} <= {{ as_of() }}
        then payback.payback_month
    end as bigint)                                                            as payback_month
from per_customer
left join payback
    on per_customer.acquisition_channel = payback.acquisition_channel
    and per_customer.signup_month = payback.signup_month
