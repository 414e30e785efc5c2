-- Historical and predicted CLV per acquisition cohort (month of the first completed order) and
-- channel. The cohort-level decomposition uses the same definitions as fct_customer_clv, pooled:
-- average order value = revenue / orders, frequency = orders per customer-year of observed
-- lifespan, lifespan = mean observed lifespan, so their product is revenue per customer.
with customers as (
    select * from {{ ref('fct_customer_clv') }}
),

cohorts as (
    select
        cohort_month,
        acquisition_channel,
        count(*)                                            as customers,
        sum(completed_orders)                               as completed_orders,
        sum(historical_revenue)                             as historical_revenue,
        sum(customer_lifespan_years)                        as lifespan_years_total,
        avg(customer_lifespan_years)                        as average_lifespan_years,
        avg(p_alive)                                        as average_p_alive,
        avg(expected_purchases_365d)                        as expected_purchases_365d_per_customer,
        avg(predicted_clv)                                  as predicted_clv_per_customer,
        sum(predicted_clv)                                  as predicted_clv_total,
        max(case when status = 'degraded' then 1 else 0 end) as has_degraded,
        max(status_reason)                                  as status_reason
    from customers
    group by cohort_month, acquisition_channel
)

select
    cohort_month,
    acquisition_channel,
    cast(customers as bigint)                                                      as customers,
    cast(completed_orders as bigint)                                               as completed_orders,
    cast(historical_revenue as decimal(18, 2))                                     as historical_revenue,
    cast(cast(historical_revenue as double) / completed_orders as decimal(18, 2))  as average_order_value,
    cast(completed_orders / lifespan_years_total as double)                        as purchase_frequency_per_year,
    cast(average_lifespan_years as double)                                         as average_lifespan_years,
    cast(
        (cast(historical_revenue as double) / completed_orders)
        * (completed_orders / lifespan_years_total)
        * average_lifespan_years
        as decimal(18, 2)
    )                                                                              as historical_clv_per_customer,
    cast(average_p_alive as double)                                                as average_p_alive,
    cast(expected_purchases_365d_per_customer as double)
        as expected_purchases_365d_per_customer,
    cast(predicted_clv_per_customer as decimal(18, 2))                             as predicted_clv_per_customer,
    cast(predicted_clv_total as decimal(18, 2))                                    as predicted_clv_total,
    cast({{ as_of() }} as timestamp)                                               as as_of,
    cast(case when has_degraded = 1 then 'degraded' else 'ok' end as varchar)     as status,
    cast(case when has_degraded = 1 then status_reason end as varchar)             as status_reason
from cohorts
