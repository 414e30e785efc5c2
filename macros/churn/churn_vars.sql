{#- The churn definition's vars, read and checked in ONE place so the snapshot grid
    (int_churn_snapshot_dates), the features/labels (int_churn_snapshots) and the data tests
    always agree. Their defaults live only in dbt_project.yml; override with --vars. -#}
{% macro churn_var(name) -%}
    {%- set known = ['churn_lookback_days', 'churn_window_days', 'churn_snapshot_count',
                     'churn_snapshot_interval_days'] -%}
    {%- if name not in known -%}
        {{ exceptions.raise_compiler_error("Unknown churn var '" ~ name ~ "'; known: " ~ known | join(', ')) }}
    {%- endif -%}
    {%- set value = var(name) -%}
    {%- if value is not number or value | int != value or value | int < 1 -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be a positive whole number, got " ~ value) }}
    {%- endif -%}
    {{- return(value | int) -}}
{%- endmacro %}
