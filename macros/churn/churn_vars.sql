{#- The churn definition's vars, with their defaults in ONE place, so the snapshot grid
    (int_churn_snapshot_dates) and the features/labels (int_churn_snapshots) always agree
    even when dbt_project.yml does not set them. Override with --vars as usual. -#}
{% macro churn_var(name) -%}
    {%- set defaults = {
        'churn_lookback_days': 365,
        'churn_window_days': 90,
        'churn_snapshot_count': 6,
        'churn_snapshot_interval_days': 30,
    } -%}
    {%- if name not in defaults -%}
        {{ exceptions.raise_compiler_error("Unknown churn var '" ~ name ~ "'; known: " ~ defaults.keys() | join(', ')) }}
    {%- endif -%}
    {%- set value = var(name, defaults[name]) -%}
    {%- if value is not number or value | int != value or value | int < 1 -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be a positive whole number, got " ~ value) }}
    {%- endif -%}
    {{- return(value | int) -}}
{%- endmacro %}
