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
    {%- set n = 'count(*)' -%}
    {%- set mxp = exact_mean('x_pre') -%}
    {%- set r = experiment_ratio('y', 'x', n, exact_sum) -%}
    {%- set rp = experiment_ratio('y_pre', 'x_pre', n, exact_sum) -%}
    count(*)                                                            as users,
    count(case when x <> 0 then 1 end)                                  as denominator_users,
    {{ exact_mean('y_pre') }}                                           as mean_numerator_pre,
    {{ mxp }}                                                           as mean_denominator_pre,
    {{ r }}                                                             as estimate,
    {{ rp }}                                                            as covariate_estimate,
    {{ experiment_ratio_variance('y', 'x', n, exact_sum, exact_product_sum) }} as var_estimate,
    {{ experiment_ratio_variance('y_pre', 'x_pre', n, exact_sum, exact_product_sum) }} as var_covariate,
    ({{ exact_cov('y', 'y_pre') }} - {{ rp }} * {{ exact_cov('y', 'x_pre') }} - {{ r }} * {{ exact_cov('x', 'y_pre') }}
        + {{ r }} * {{ rp }} * {{ exact_cov('x', 'x_pre') }})
        / nullif({{ exact_mean('x') }} * {{ mxp }}, 0)                  as cov_estimate_covariate
{%- endmacro %}

{#- The ratio estimate and its delta-method variance from sums, so the same arithmetic serves
    per-user rows (n = count(*), total = exact_sum, product_total = exact_product_sum) and running
    sums (fct_experiment_sequential: n and the exact decimal sums are columns). total(c) and
    product_total(a, b) render sum(c) and sum(a * b) as doubles of exact decimal sums. -#}
{% macro experiment_ratio(y, x, n, total) -%}
    (({{ total(y) }} / {{ n }}) / nullif(({{ total(x) }} / {{ n }}), 0))
{%- endmacro %}

{#- A variance is >= 0 in exact arithmetic; clamp the rounding error so sqrt never sees < 0. -#}
{% macro experiment_ratio_variance(y, x, n, total, product_total) -%}
    {%- set r = experiment_ratio(y, x, n, total) -%}
    {%- set mx = '(' ~ total(x) ~ ' / ' ~ n ~ ')' -%}
    greatest({{ sum_cov(y, y, n, total, product_total) }} - 2 * {{ r }} * {{ sum_cov(y, x, n, total, product_total) }}
        + {{ r }} * {{ r }} * {{ sum_cov(x, x, n, total, product_total) }}, 0)
        / nullif({{ mx }} * {{ mx }}, 0)
{%- endmacro %}

{#- total / product_total for sums held in columns sum_<c> and sum_<a>_<b> (exact decimals). -#}
{% macro column_total(column) -%}
    cast(sum_{{ column }} as double)
{%- endmacro %}

{% macro column_product_total(a, b) -%}
    cast(sum_{{ a }}_{{ b }} as double)
{%- endmacro %}

{#- Sample covariance (n - 1) from sums; 0 with fewer than two rows. -#}
{% macro sum_cov(a, b, n, total, product_total) -%}
    coalesce(({{ product_total(a, b) }} - {{ total(a) }} * {{ total(b) }} / {{ n }}) / nullif({{ n }} - 1, 0), 0)
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

{% macro exact_product_sum(a, b) -%}
    cast(sum(cast({{ a }} as decimal(38, 6)) * cast({{ b }} as decimal(38, 6))) as double)
{%- endmacro %}

{#- Sample covariance (n - 1) of two columns; 0 with fewer than two rows. -#}
{% macro exact_cov(a, b) -%}
    {{ sum_cov(a, b, 'count(*)', exact_sum, exact_product_sum) }}
{%- endmacro %}

{#- Per-user rows of every catalogue metric (seeds/experiment_metrics.csv) from a relation with
    one row per user (and per group_columns, e.g. a day) holding each measure and pre_<measure>:
    columns group_columns..., metric_name, y, x, y_pre, x_pre. A portable unpivot of the measures
    joined to the catalogue twice (numerator and denominator). -#}
{% macro experiment_metric_users(relation, group_columns) -%}
    {%- set keys = group_columns + ([] if 'customer_id' in group_columns else ['customer_id']) -%}
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
