{#- Upper-tail probability of the chi-square distribution, P(X >= statistic) with df degrees
    of freedom: the p-value of a chi-square goodness-of-fit test (the SRM check).

    Both arguments are SQL expressions (df may be a column: experiments differ in their number
    of variants); they are repeated inside the result, so pass columns or literals.
-#}
{% macro chi_square_p_value(statistic, df) -%}
    {{ return(adapter.dispatch('chi_square_p_value', 'ecom_growth')(statistic, df)) }}
{%- endmacro %}

{#- Exact closed forms up to max_exact_df degrees of freedom, Wilson-Hilferty beyond:
      even df = 2m:    Q = exp(-x/2) * sum_{i<m} (x/2)^i / i!
      odd  df = 2m+1:  Q = 2 (1 - Phi(sqrt x)) + sqrt(2/pi) exp(-x/2) * sum_{i=1..m} x^(i-1/2) / (1*3*...*(2i-1))
    (df = 1 is the familiar 2 (1 - Phi(sqrt x))). Terms are evaluated as exp(log term) so a huge
    statistic underflows cleanly to 0 instead of overflowing. Wilson-Hilferty (the cube root of
    X/df is close to normal) is accurate to about 1e-3 in p for df > 30, ample for an alarm at
    p < 0.001 with > 30 variants, which no real experiment has. -#}
{% macro default__chi_square_p_value(statistic, df, max_exact_df=30) -%}
    {%- set x = 'cast(' ~ statistic ~ ' as double)' -%}
    {%- set k = '(' ~ df ~ ')' -%}
    {%- set log_x = 'ln(greatest(' ~ x ~ ', 1e-300))' -%}
    {%- set max_terms = (max_exact_df / 2) | round(0, 'ceil') | int -%}
    {%- set ns = namespace(factorial=1, double_factorial=1, even_terms=[], odd_terms=[]) -%}
    {%- for i in range(max_terms) -%}
        {%- if i > 0 -%}{%- set ns.factorial = ns.factorial * i -%}{%- endif -%}
        {%- do ns.even_terms.append(
            'case when ' ~ (2 * i) ~ ' < ' ~ k ~ ' then exp(-' ~ x ~ ' / 2.0 + ' ~ i ~ ' * (' ~ log_x ~ ' - ln(2.0)) - ln('
            ~ ns.factorial ~ '.0)) else 0.0 end') -%}
    {%- endfor -%}
    {%- for i in range(1, max_terms + 1) -%}
        {%- set ns.double_factorial = ns.double_factorial * (2 * i - 1) -%}
        {%- do ns.odd_terms.append(
            'case when ' ~ (2 * i) ~ ' < ' ~ k ~ ' then exp(-' ~ x ~ ' / 2.0 + ' ~ (i - 0.5) ~ ' * ' ~ log_x ~ ' - ln('
            ~ ns.double_factorial ~ '.0)) else 0.0 end') -%}
    {%- endfor -%}
    {%- set wh_z = '((power(' ~ x ~ ' / ' ~ k ~ ', 1.0 / 3.0) - (1.0 - 2.0 / (9.0 * ' ~ k ~ '))) / sqrt(2.0 / (9.0 * ' ~ k ~ ')))' -%}
    (case
        when {{ x }} is null or {{ k }} is null or {{ k }} < 1 or {{ x }} < 0 then null
        when {{ x }} = 0 then 1.0
        when {{ k }} <= {{ max_exact_df }} and mod({{ k }}, 2) = 0 then
            least(1.0, {{ ns.even_terms | join('\n            + ') }})
        when {{ k }} <= {{ max_exact_df }} then
            least(1.0, 2.0 * {{ normal_cdf('(-sqrt(' ~ x ~ '))') }}
            + 0.79788456080286535588 * ({{ ns.odd_terms | join('\n            + ') }}))
        else {{ normal_cdf('(-' ~ wh_z ~ ')') }}
    end)
{%- endmacro %}
