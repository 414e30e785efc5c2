{#- A deterministic uniform number in [0, 1) from a key (e.g. campaign key || action ||
    customer_id): the first 32 bits of its md5. Same key, same number, on every build and every
    adapter that computes md5 the same way, so a randomised holdout is stable and auditable
    (anyone can recompute a customer's bucket). -#}
{% macro hash_uniform(key_expression) -%}
    {{ return(adapter.dispatch('hash_uniform', 'ecom_growth')(key_expression)) }}
{%- endmacro %}

{% macro default__hash_uniform(key_expression) -%}
    (cast(('0x' || substr({{ dbt.hash(key_expression) }}, 1, 8)) as bigint) / 4294967296.0)
{%- endmacro %}

{% macro spark__hash_uniform(key_expression) -%}
    (cast(conv(substr({{ dbt.hash(key_expression) }}, 1, 8), 16, 10) as bigint) / 4294967296.0)
{%- endmacro %}
