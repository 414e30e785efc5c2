{#- Customer features at a point in time, from completed orders STRICTLY before it (so a send's
    features never see its own outcome): one row per row of `population` (a CTE name with
    customer_id and feature_at; `columns` lists them all), those columns plus the features. Used for past sends
    (int_campaign_send_features) and for scoring at as_of (int_uplift_scoring_features), so
    training and scoring features are the same definition. -#}
{% macro uplift_features(population, columns) -%}
    select
        {%- for column in columns %}
        {{ population }}.{{ column }},
        {%- endfor %}
        cast({{ days_between('max(orders.ordered_at)', population ~ '.feature_at') }} as double) as days_since_last_order,
        cast(count(orders.order_id) as double)                                                 as completed_orders_before,
        cast(coalesce(sum(orders.order_total), 0) as double)                                   as revenue_before,
        cast(coalesce(avg(orders.order_total), 0) as double)                                   as average_order_value_before,
        cast(count(case when orders.ordered_at >= {{ dbt.dateadd('day', -90, population ~ '.feature_at') }}
            then 1 end) as double)                                                             as orders_last_90_days,
        cast({{ days_between('min(orders.ordered_at)', population ~ '.feature_at') }} as double) as days_since_first_order
    from {{ population }}
    left join {{ ref('int_completed_orders') }} as orders
        on {{ population }}.customer_id = orders.customer_id
        and orders.ordered_at < {{ population }}.feature_at
    group by {% for column in columns %}{{ population }}.{{ column }}{% if not loop.last %}, {% endif %}{% endfor %}
{%- endmacro %}
