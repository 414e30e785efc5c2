{#- Small SQL building blocks behind adapter.dispatch: DuckDB gets the default__ version,
    another warehouse can supply <adapter>__<name> without touching any model. -#}

{#- Cast that yields null instead of failing, so unparseable raw values can be quarantined. -#}
{% macro safe_cast(expression, data_type) -%}
    {{ return(adapter.dispatch('safe_cast', 'ecom_growth')(expression, data_type)) }}
{%- endmacro %}

{% macro default__safe_cast(expression, data_type) -%}
    try_cast(trim(cast({{ expression }} as varchar)) as {{ data_type }})
{%- endmacro %}

{#- Salted SHA-256 of a normalised string: a stable pseudonym that cannot be reversed without the salt. -#}
{% macro pseudonymize(expression) -%}
    {{ return(adapter.dispatch('pseudonymize', 'ecom_growth')(expression)) }}
{%- endmacro %}

{% macro default__pseudonymize(expression) -%}
    case when {{ expression }} is null then null
         else sha256('{{ pii_salt() }}' || lower(trim(cast({{ expression }} as varchar)))) end
{%- endmacro %}

{#- The salt comes from the environment; the documented default is for the demo data only. -#}
{% macro pii_salt() -%}
    {{- env_var('ECOM_GROWTH_PII_SALT', 'ecom-growth-demo-salt') | replace("'", "''") -}}
{%- endmacro %}

{% macro days_between(start, end) -%}
    {{ return(adapter.dispatch('days_between', 'ecom_growth')(start, end)) }}
{%- endmacro %}

{#- Fractional days, so a purchase at 23:59 and one at 00:01 are not a full day apart. -#}
{% macro default__days_between(start, end) -%}
    (epoch({{ end }}) - epoch({{ start }})) / 86400.0
{%- endmacro %}
