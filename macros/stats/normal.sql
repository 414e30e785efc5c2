{#- Standard normal distribution in plain SQL (DuckDB has no erf / probit).

    Both macros take a SQL expression and return a SQL expression. The argument is repeated
    inside the result, so pass a column or a literal, not an expensive subquery.
    Portable by construction (abs, exp, ln, sqrt, case); an adapter with a native function can
    supply <adapter>__normal_cdf / <adapter>__normal_quantile. Checked against reference values
    by the stats_macros_match_reference test (macros/stats/stats_tests.sql).
-#}

{#- Phi(x) = P(Z <= x). -#}
{% macro normal_cdf(x) -%}
    {{ return(adapter.dispatch('normal_cdf', 'ecom_growth')(x)) }}
{%- endmacro %}

{#- Hart (1968) rational approximation as given by G. West, "Better approximations to
    cumulative normal functions" (2005): double precision (absolute error ~1e-14) over the
    whole line, unlike Abramowitz-Stegun 7.1.26 (~1e-7). Tails beyond |x| > 37 are 0 / 1. -#}
{% macro default__normal_cdf(x) -%}
    {%- set a = '(abs(cast(' ~ x ~ ' as double)))' -%}
    {%- set tail -%}
    (case
        when {{ a }} > 37 then 0.0
        when {{ a }} < 7.07106781186547 then
            exp(-{{ a }} * {{ a }} / 2.0)
            * ((((((0.0352624965998911 * {{ a }} + 0.700383064443688) * {{ a }} + 6.37396220353165) * {{ a }}
                + 33.912866078383) * {{ a }} + 112.079291497871) * {{ a }} + 221.213596169931) * {{ a }}
                + 220.206867912376)
            / (((((((0.0883883476483184 * {{ a }} + 1.75566716318264) * {{ a }} + 16.064177579207) * {{ a }}
                + 86.7807322029461) * {{ a }} + 296.564248779674) * {{ a }} + 637.333633378831) * {{ a }}
                + 793.826512519948) * {{ a }} + 440.413735824752)
        else
            exp(-{{ a }} * {{ a }} / 2.0)
            / ({{ a }} + 1.0 / ({{ a }} + 2.0 / ({{ a }} + 3.0 / ({{ a }} + 4.0 / ({{ a }} + 0.65)))))
            / 2.506628274631
    end)
    {%- endset -%}
    (case when {{ x }} is null then null when {{ x }} > 0 then 1.0 - {{ tail }} else {{ tail }} end)
{%- endmacro %}

{#- Phi^-1(p): the z with P(Z <= z) = p, for 0 < p < 1 (null outside). -#}
{% macro normal_quantile(p) -%}
    {{ return(adapter.dispatch('normal_quantile', 'ecom_growth')(p)) }}
{%- endmacro %}

{#- P. J. Acklam's algorithm: rational approximations in three regions, relative error
    < 1.15e-9 (so z(0.975) = 1.959963985 to 1e-8, far inside the 1e-6 the marts need). -#}
{% macro default__normal_quantile(p) -%}
    {%- set a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00] -%}
    {%- set b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                 6.680131188771972e+01, -1.328068155288572e+01] -%}
    {%- set c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                 -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00] -%}
    {%- set d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                 3.754408661907416e+00] -%}
    {%- set p = 'cast(' ~ p ~ ' as double)' -%}
    {%- set q_low = 'sqrt(-2.0 * ln(' ~ p ~ '))' -%}
    {%- set q_high = 'sqrt(-2.0 * ln(1.0 - ' ~ p ~ '))' -%}
    {%- set q_mid = '(' ~ p ~ ' - 0.5)' -%}
    {%- set r_mid = '(' ~ q_mid ~ ' * ' ~ q_mid ~ ')' -%}
    (case
        when {{ p }} is null or {{ p }} <= 0 or {{ p }} >= 1 then null
        when {{ p }} < 0.02425 then
            ({{ acklam_poly(c, q_low) }}) / ({{ acklam_poly(d, q_low) }} * {{ q_low }} + 1.0)
        when {{ p }} > 1 - 0.02425 then
            -({{ acklam_poly(c, q_high) }}) / ({{ acklam_poly(d, q_high) }} * {{ q_high }} + 1.0)
        else
            ({{ acklam_poly(a, r_mid) }}) * {{ q_mid }} / ({{ acklam_poly(b, r_mid) }} * {{ r_mid }} + 1.0)
    end)
{%- endmacro %}

{#- Horner form of coefficients[0] * x^(n-1) + ... + coefficients[n-1]. -#}
{% macro acklam_poly(coefficients, x) -%}
    {%- set expression = namespace(text=coefficients[0] | string) -%}
    {%- for coefficient in coefficients[1:] -%}
        {%- set expression.text = '(' ~ expression.text ~ ') * ' ~ x ~ ' + (' ~ coefficient ~ ')' -%}
    {%- endfor -%}
    ({{ expression.text }})
{%- endmacro %}

{#- Two-sided p-value of a standard-normal test statistic: 2 * (1 - Phi(|z|)). -#}
{% macro two_sided_normal_p_value(z) -%}
    (2.0 * {{ normal_cdf('(-abs(' ~ z ~ '))') }})
{%- endmacro %}
