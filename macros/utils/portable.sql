{#- Small SQL building blocks behind adapter.dispatch: DuckDB gets the default__ version,
    another warehouse can supply <adapter>__<name> without touching any model. -#}

{#- Cast that yields null instead of failing, so unparseable raw values can be quarantined. -#}
{% macro safe_cast(expression, data_type) -%}
    {{ return(adapter.dispatch('safe_cast', 'ecom_growth')(expression, data_type)) }}
{%- endmacro %}

{% macro default__safe_cast(expression, data_type) -%}
    try_cast(trim(cast({{ expression }} as varchar)) as {{ data_type }})
{%- endmacro %}

{#- Salted SHA-256 of a normalised string: a stable pseudonym that cannot be reversed without the salt.
    The salt is a secret, so it is never templated into SQL (dbt writes compiled SQL, manifests and
    logs to disk): the ecom_growth dbt-duckdb plugin (ecom_growth.dbt_plugin, profiles.yml) reads
    ECOM_GROWTH_PII_SALT when it opens each database session and binds it to the session variable
    read here. Unset, the public demo salt is used and the build says so loudly (on-run-start). -#}
{% macro pseudonymize(expression) -%}
    {{ return(adapter.dispatch('pseudonymize', 'ecom_growth')(expression)) }}
{%- endmacro %}

{% macro default__pseudonymize(expression) -%}
    case when {{ expression }} is null then null
         else sha256({{ pii_salt() }} || lower(trim(cast({{ expression }} as varchar)))) end
{%- endmacro %}

{#- The salt as a SQL expression evaluated inside the session (never its value). -#}
{% macro pii_salt() -%}
    {{ return(adapter.dispatch('pii_salt', 'ecom_growth')()) }}
{%- endmacro %}

{% macro default__pii_salt() -%}
    coalesce(getvariable('ecom_growth_pii_salt'), {{ sql_literal(demo_pii_salt()) }})
{%- endmacro %}

{#- Public, documented, and therefore no protection: pseudonyms made with it are reversible by
    anyone holding the email list. -#}
{% macro demo_pii_salt() -%}
    {{- return('ecom-growth-demo-salt') -}}
{%- endmacro %}

{#- true when this session has no secret salt (the demo salt is in use). -#}
{% macro pii_salt_is_demo() -%}
    {{ return(adapter.dispatch('pii_salt_is_demo', 'ecom_growth')()) }}
{%- endmacro %}

{% macro default__pii_salt_is_demo() -%}
    (getvariable('ecom_growth_pii_salt') is null)
{%- endmacro %}

{#- A value from data (a seed, a var) as a SQL string literal: quotes doubled, so the value can
    never end the literal and become SQL. Every data value pasted into compiled SQL goes through
    this (or identifier()), never through bare '{{ value }}'. -#}
{% macro sql_literal(value) -%}
    {%- if value is none -%}null{%- else -%}'{{ value | string | replace("'", "''") }}'{%- endif -%}
{%- endmacro %}

{#- A value from data used as a name (rule_id, ...): must match ^[A-Za-z_][A-Za-z0-9_]*$, else the
    build fails naming where it came from. Returns the value unchanged. -#}
{% macro checked_identifier(value, what) -%}
    {%- if value is none or not modules.re.match('^[A-Za-z_][A-Za-z0-9_]*$', value | string) -%}
        {{ exceptions.raise_compiler_error(what ~ ": \"" ~ value ~ "\" is not a valid name "
            ~ "(letters, digits and underscores, not starting with a digit).") }}
    {%- endif -%}
    {{- return(value | string) -}}
{%- endmacro %}

{#- A raw timestamp (text, TIMESTAMP or TIMESTAMPTZ) as a naive UTC timestamp, or null when it
    does not parse. The rule: a value that carries an offset ('...+02:00', '...Z', or a
    TIMESTAMPTZ, which renders with one) is converted to UTC; a naive value is local time of
    var('source_timezone') (default UTC) and converted to UTC. Never the machine's time zone. -#}
{% macro utc_timestamp(expression) -%}
    {{ return(adapter.dispatch('utc_timestamp', 'ecom_growth')(expression)) }}
{%- endmacro %}

{% macro default__utc_timestamp(expression) -%}
    {%- set text = "trim(cast(" ~ expression ~ " as varchar))" -%}
    {%- set clock = "substr(" ~ text ~ ", 12)" -%}
    {%- set source_tz = var('source_timezone') -%}
    {#- Plain string tests, not regexes: this runs on every timestamp of every raw row. #}
    case
        {# DuckDB also parses 'infinity', '-infinity' and 'epoch': no shop records those. #}
        when not ({{ text }} glob '[0-9][0-9][0-9][0-9]-[0-9]*') then null
        {# An offset: '+hh[:mm]' or '-hh[:mm]' after the date, or a trailing Z / UTC. #}
        when strpos({{ clock }}, '+') > 0 or strpos({{ clock }}, '-') > 0 or upper(right({{ text }}, 1)) = 'Z'
            then timezone('UTC', try_cast(
                case when upper(right({{ text }}, 3)) = 'UTC' then left({{ text }}, length({{ text }}) - 3) || '+00' else {{ text }} end
                as timestamptz))
        when upper(right({{ text }}, 3)) = 'UTC'
            then try_cast(rtrim(left({{ text }}, length({{ text }}) - 3)) as timestamp)
        {%- if source_tz | upper == 'UTC' %}
        else try_cast({{ text }} as timestamp)
        {%- else %}
        else timezone('UTC', timezone({{ sql_literal(source_tz) }}, try_cast({{ text }} as timestamp)))
        {%- endif %}
    end
{%- endmacro %}

{#- A raw date (text or DATE), or null when it does not parse or is not a calendar date. -#}
{% macro calendar_date(expression) -%}
    case when trim(cast({{ expression }} as varchar)) glob '[0-9][0-9][0-9][0-9]-[0-9]*' then {{ safe_cast(expression, 'date') }} end
{%- endmacro %}

{#- Now, as a naive UTC timestamp (staging timestamps are naive UTC). -#}
{% macro utc_now() -%}
    {{ return(adapter.dispatch('utc_now', 'ecom_growth')()) }}
{%- endmacro %}

{% macro default__utc_now() -%}
    timezone('UTC', now())
{%- endmacro %}

{% macro days_between(start, end) -%}
    {{ return(adapter.dispatch('days_between', 'ecom_growth')(start, end)) }}
{%- endmacro %}

{#- Fractional days, so a purchase at 23:59 and one at 00:01 are not a full day apart. -#}
{% macro default__days_between(start, end) -%}
    (epoch({{ end }}) - epoch({{ start }})) / 86400.0
{%- endmacro %}
