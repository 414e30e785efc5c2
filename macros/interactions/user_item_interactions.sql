{#- User x item implicit feedback up to a cutoff timestamp (exclusive of later rows).

    strength = sum over signals of weight(signal) * 2^(-age_days / half_life_days), where age is
    measured back from the cutoff (half_life_days = var interaction_half_life_days); one more
    column strength_half_life_<d>d per half-life the recommender's validation tries. Views and add-to-carts come from events; purchases come from
    completed order items (the source of truth for what was bought), so purchase EVENTS are
    counted in purchase_event_count but not weighted twice. Works with no events at all.
    Used with cutoff = as_of (int_user_item_interactions) and the recommender's evaluation
    cutoffs (int_user_item_interactions_before_holdout), so all are built by one definition.
    strength is a sum of exact decimals (12 places): order-independent, so bit-identical
    across rebuilds whatever order the rows are read in.
-#}
{% macro user_item_interactions(cutoff) -%}
with weights as (
    select signal, weight from {{ ref('event_weights') }}
),

event_signals as (
    select
        customer_id,
        product_id,
        event_type as signal,
        occurred_at as interacted_at,
        1 as quantity,
        null as order_id
    from {{ ref('stg_shop__events') }}
    where occurred_at <= {{ cutoff }}
),

purchase_signals as (
    select
        orders.customer_id,
        items.product_id,
        'purchase' as signal,
        orders.ordered_at as interacted_at,
        items.quantity,
        orders.order_id
    from {{ ref('stg_shop__order_items') }} as items
    inner join {{ ref('int_completed_orders') }} as orders
        on items.order_id = orders.order_id
    where orders.ordered_at <= {{ cutoff }}
),

signals as (
    select * from event_signals
    union all
    select * from purchase_signals
),

weighted as (
    select
        signals.*,
        -- purchase events duplicate order items: weight 0, counted only
        case when signals.signal = 'purchase' and signals.order_id is null then 0
             else coalesce(weights.weight, 0) end as weight,
        {{ days_between('signals.interacted_at', cutoff) }} as age_days
    from signals
    left join weights on signals.signal = weights.signal
)

select
    customer_id,
    product_id,
    cast(count(*) filter (where signal = 'view') as bigint)                                   as view_count,
    cast(count(*) filter (where signal = 'add_to_cart') as bigint)                            as add_to_cart_count,
    cast(count(*) filter (where signal = 'purchase' and order_id is null) as bigint)          as purchase_event_count,
    cast(count(distinct order_id) as bigint)                                                  as purchase_count,
    cast(coalesce(sum(quantity) filter (where order_id is not null), 0) as bigint)            as quantity_purchased,
    -- a float sum depends on the order rows arrive in (threads, file layout): sum exact
    -- decimals instead, so strength is bit-identical on every rebuild
    {{ decayed_strength(var('interaction_half_life_days')) }} as strength,
    {%- for half_life in interaction_half_lives() %}
    {{ decayed_strength(half_life) }} as strength_half_life_{{ half_life }}d,
    {%- endfor %}
    min(interacted_at)                                                                        as first_interaction_at,
    max(interacted_at)                                                                        as last_interaction_at
from weighted
group by customer_id, product_id
{%- endmacro %}


{#- sum over signals of weight x 2^(-age / half_life), as an exact decimal sum (18 places, so
    even two-year-old signals at a one-week half-life stay > 0), returned as double. -#}
{% macro decayed_strength(half_life_days) -%}
    cast(sum(cast(weight * power(0.5, age_days / {{ half_life_days }}) as decimal(38, 18))) as double)
{%- endmacro %}


{#- The half-lives the recommender's validation tries: the configured one plus every
    half_life_days in var('recommender_grid'), as whole days, sorted. One column each. -#}
{% macro interaction_half_lives() -%}
    {%- set values = [var('interaction_half_life_days') | int] -%}
    {%- for override in (var('recommender_grid') or []) -%}
        {%- if override.get('half_life_days') is not none -%}
            {%- do values.append(override['half_life_days'] | int) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(values | unique | sort) }}
{%- endmacro %}
