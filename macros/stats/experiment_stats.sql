{#- Per-user measures of int_experiment_user_measures that seeds/experiment_metrics.csv may name
    as numerator or denominator. THE documented extension pattern: add a column <measure> (metric
    window) and pre_<measure> (the same window length before assignment) to
    int_experiment_user_measures, add its name here, then add metric rows to the seed. -#}
{% macro experiment_measures() -%}
    {{ return(['users', 'conversions', 'completed_orders', 'revenue', 'returned_orders']) }}
{%- endmacro %}

{#- Aggregates of one arm of a ratio metric R = mean(y) / mean(x) and its pre-period covariate
    P = mean(y_pre) / mean(x_pre), from per-user rows with columns y, x, y_pre, x_pre. Returns the
    select-list items: users, users with a nonzero denominator, the pre-period means, estimate, covariate_estimate, and the per-user variances of the
    delta-method linearisations (Deng et al. 2018): var_estimate = Var(y - R x) / mean(x)^2, the same
    for the covariate, and their covariance. Var(R hat) = var_estimate / users. With x = 1 (a
    per-user metric) these are the plain sample variance and covariance. -#}
{% macro experiment_arm_moments() -%}
    {%- set mx = exact_mean('x') -%}
    {%- set mxp = exact_mean('x_pre') -%}
    {%- set r = '(' ~ exact_mean('y') ~ ' / nullif(' ~ mx ~ ', 0))' -%}
    {%- set rp = '(' ~ exact_mean('y_pre') ~ ' / nullif(' ~ mxp ~ ', 0))' -%}
    count(*)                                                            as users,
    count(case when x <> 0 then 1 end)                                  as denominator_users,
    {{ exact_mean('y_pre') }}                                           as mean_numerator_pre,
    {{ mxp }}                                                           as mean_denominator_pre,
    {{ r }}                                                             as estimate,
    {{ rp }}                                                            as covariate_estimate,
    {#- A variance is >= 0 in exact arithmetic; clamp the rounding error so sqrt never sees < 0. #}
    greatest({{ exact_cov('y', 'y') }} - 2 * {{ r }} * {{ exact_cov('y', 'x') }} + {{ r }} * {{ r }} * {{ exact_cov('x', 'x') }}, 0)
        / nullif({{ mx }} * {{ mx }}, 0)                                as var_estimate,
    greatest({{ exact_cov('y_pre', 'y_pre') }} - 2 * {{ rp }} * {{ exact_cov('y_pre', 'x_pre') }}
        + {{ rp }} * {{ rp }} * {{ exact_cov('x_pre', 'x_pre') }}, 0)
        / nullif({{ mxp }} * {{ mxp }}, 0)                              as var_covariate,
    ({{ exact_cov('y', 'y_pre') }} - {{ rp }} * {{ exact_cov('y', 'x_pre') }} - {{ r }} * {{ exact_cov('x', 'y_pre') }}
        + {{ r }} * {{ rp }} * {{ exact_cov('x', 'x_pre') }})
        / nullif({{ mx }} * {{ mxp }}, 0)                               as cov_estimate_covariate
{%- endmacro %}

{#- Order-independent aggregates: sums of exact decimals (6 places), then double arithmetic on
    them, so a rebuild that reads the rows in another order gives the same bits (a double sum
    would not). -#}
{% macro exact_sum(expression) -%}
    cast(sum(cast({{ expression }} as decimal(38, 6))) as double)
{%- endmacro %}

{% macro exact_mean(column) -%}
    ({{ exact_sum(column) }} / count(*))
{%- endmacro %}

{#- Sample covariance (n - 1) of two columns; 0 with fewer than two rows. -#}
{% macro exact_cov(a, b) -%}
    coalesce((cast(sum(cast({{ a }} as decimal(38, 6)) * cast({{ b }} as decimal(38, 6))) as double)
        - {{ exact_sum(a) }} * {{ exact_sum(b) }} / count(*)) / nullif(count(*) - 1, 0), 0)
{%- endmacro %}

{#- Per-user rows of every catalogue metric (seeds/experiment_metrics.csv) from a relation with
    one row per user (and per group_columns, e.g. a day) holding each measure and pre_<measure>:
    columns group_columns..., metric_name, y, x, y_pre, x_pre. A portable unpivot of the measures
    joined to the catalogue twice (numerator and denominator). -#}
{% macro experiment_metric_users(relation, group_columns) -%}
    {%- set keys = group_columns + ['customer_id'] -%}
    with long_measures as (
        {%- for measure in experiment_measures() %}
        select
            {{ keys | join(', ') }},
            '{{ measure }}'                 as measure,
            {{ measure }}                   as value,
            pre_{{ measure }}               as pre_value
        from {{ relation }}
        {% if not loop.last %}union all{% endif %}
        {%- endfor %}
    )

    select
        {%- for column in group_columns %}
        numerators.{{ column }},
        {%- endfor %}
        metrics.metric_name,
        numerators.value                    as y,
        denominators.value                  as x,
        numerators.pre_value                as y_pre,
        denominators.pre_value              as x_pre
    from {{ ref('experiment_metrics') }} as metrics
    inner join long_measures as numerators
        on metrics.numerator_measure = numerators.measure
    inner join long_measures as denominators
        on metrics.denominator_measure = denominators.measure
        {%- for column in keys %}
        and numerators.{{ column }} = denominators.{{ column }}
        {%- endfor %}
{%- endmacro %}
