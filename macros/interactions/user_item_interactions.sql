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

    cutoffs: a list of {split, at} (at: a timestamp expression). One cutoff without a split gives
    the table above; several give one block of rows per split (column split first), all from
    ONE pass over the signals and one aggregation: each signal row is read once and counted in
    every cutoff it precedes, its ages and decayed terms computed per cutoff exactly as a
    separate query would (so the blocks equal separate per-cutoff builds bit for bit).
-#}
{% macro user_item_interactions(cutoffs) -%}
{%- set split_column = cutoffs | length > 1 or cutoffs[0].get('split') is not none -%}
{%- set latest = cutoffs[0].at if cutoffs | length == 1 else 'greatest(' ~ cutoffs | map(attribute='at') | join(', ') ~ ')' -%}
{#- With one cutoff every signal read is before it (both reads filter on it): no per-aggregate
    FILTER, which cost 3-8% of the query's CPU at 250k customers for nothing (same rows). -#}
{%- set single = cutoffs | length == 1 -%}
{%- set half_lives = [var('interaction_half_life_days')] + interaction_half_lives() -%}
{%- set strength_names = ['strength'] -%}
{%- for half_life in interaction_half_lives() -%}
    {%- do strength_names.append('strength_half_life_' ~ half_life ~ 'd') -%}
{%- endfor -%}
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
    where occurred_at <= {{ latest }}
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
    where orders.ordered_at <= {{ latest }}
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
        {%- for cutoff in cutoffs %}
        signals.interacted_at <= {{ cutoff.at }} as is_before_{{ loop.index }},
        {{ days_between('signals.interacted_at', cutoff.at) }} as age_days_{{ loop.index }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from signals
    left join weights on signals.signal = weights.signal
),

per_cutoff as (
    select
        customer_id,
        product_id,
        {%- for cutoff in cutoffs %}
        {%- set i = loop.index %}
        {%- set before = none if single else 'is_before_' ~ i %}
        {%- set when = '' if single else ' filter (where ' ~ before ~ ')' %}
        {%- set also = '' if single else before ~ ' and ' %}
        count(*){{ when }}                                                                       as signals_{{ i }},
        cast(count(*) filter (where {{ also }}signal = 'view') as bigint)                        as view_count_{{ i }},
        cast(count(*) filter (where {{ also }}signal = 'add_to_cart') as bigint)                 as add_to_cart_count_{{ i }},
        cast(count(*) filter (where {{ also }}signal = 'purchase' and order_id is null) as bigint)
                                                                                                 as purchase_event_count_{{ i }},
        -- staging keeps one order line per (order_id, product_id) (tested), so within a
        -- customer x product pair each purchase row is a distinct order: count = count distinct
        cast(count(order_id){{ when }} as bigint)                                                as purchase_count_{{ i }},
        cast(coalesce(sum(quantity) filter (where {{ also }}order_id is not null), 0) as bigint)
                                                                                                 as quantity_purchased_{{ i }},
        -- a float sum depends on the order rows arrive in (threads, file layout): sum exact
        -- decimals instead, so strength is bit-identical on every rebuild
        {%- for half_life in half_lives %}
        {{ decayed_strength(half_life, 'age_days_' ~ i, before) }} as {{ strength_names[loop.index0] }}_{{ i }},
        {%- endfor %}
        min(interacted_at){{ when }}                                                             as first_interaction_at_{{ i }},
        max(interacted_at){{ when }}                                                             as last_interaction_at_{{ i }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from weighted
    group by customer_id, product_id
)
{%- if split_column %},

splits as (
    {%- for cutoff in cutoffs %}
    select {{ sql_literal(cutoff.split) }} as split, {{ loop.index }} as cutoff_index
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)
{%- endif %}

select
    {%- if split_column %}
    splits.split,
    {%- endif %}
    per_cutoff.customer_id,
    per_cutoff.product_id,
    {%- for column in ['view_count', 'add_to_cart_count', 'purchase_event_count', 'purchase_count', 'quantity_purchased']
        + strength_names + ['first_interaction_at', 'last_interaction_at'] %}
    {%- if split_column %}
    case splits.cutoff_index
        {%- for cutoff in cutoffs %} when {{ loop.index }} then per_cutoff.{{ column }}_{{ loop.index }}{% endfor %}
    end as {{ column }}
    {%- else %}
    per_cutoff.{{ column }}_1 as {{ column }}
    {%- endif %}
    {%- if not loop.last %},{% endif %}
    {%- endfor %}
from per_cutoff
{%- if split_column %}
cross join splits
where case splits.cutoff_index
    {%- for cutoff in cutoffs %} when {{ loop.index }} then per_cutoff.signals_{{ loop.index }}{% endfor %}
end > 0
{%- endif %}
{%- endmacro %}


{#- sum over signals of weight x 2^(-age / half_life), as an exact decimal sum (18 places, so
    even two-year-old signals at a one-week half-life stay > 0), returned as double. -#}
{% macro decayed_strength(half_life_days, age_days='age_days', condition=none) -%}
    cast(sum(cast(weight * power(0.5, {{ age_days }} / {{ half_life_days }}) as decimal(38, 18)))
        {%- if condition %} filter (where {{ condition }}){% endif %} as double)
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
