{#- The retention marts' vars, read and validated in one place: a wrong value is a clear compile
    error naming the var, not odd SQL. Their defaults live in dbt_project.yml only (no second
    default here that could drift); retention_segment_columns: int_retention_customer_segments.
-#}

{#- The grains the marts support; anything else is a clear compile error, not odd SQL. -#}
{% macro retention_supported_grains() -%}
    {%- do return(['day', 'week', 'month', 'quarter', 'year']) -%}
{%- endmacro %}

{#- var('retention_cohort_grains'), validated. -#}
{% macro retention_cohort_grains() -%}
    {%- set grains = var('retention_cohort_grains') -%}
    {%- if grains is string -%}
        {%- set grains = [grains] -%}
    {%- endif -%}
    {%- if grains | length == 0 -%}
        {{ exceptions.raise_compiler_error("var retention_cohort_grains is empty: give at least one of " ~ retention_supported_grains() | join(', ') ~ ".") }}
    {%- endif -%}
    {%- for grain in grains if grain not in retention_supported_grains() -%}
        {{ exceptions.raise_compiler_error("var retention_cohort_grains: unsupported grain '" ~ grain ~ "' (supported: " ~ retention_supported_grains() | join(', ') ~ ").") }}
    {%- endfor -%}
    {%- do return(grains | unique | list) -%}
{%- endmacro %}

{#- var('retention_curve_days'), validated: non-negative whole days. -#}
{% macro retention_curve_days() -%}
    {%- set days = var('retention_curve_days') -%}
    {%- if days is number -%}
        {%- set days = [days] -%}
    {%- endif -%}
    {%- if days | length == 0 -%}
        {{ exceptions.raise_compiler_error("var retention_curve_days is empty: give at least one day, e.g. [30, 90, 365].") }}
    {%- endif -%}
    {%- for day in days if day is not number or day < 0 or day != day | int -%}
        {{ exceptions.raise_compiler_error("var retention_curve_days: '" ~ day ~ "' is not a non-negative whole number of days.") }}
    {%- endfor -%}
    {%- do return(days | map('int') | unique | sort | list) -%}
{%- endmacro %}

{#- var('retention_curve_types'), validated: which Kaplan-Meier curves fct_retention_curves builds. -#}
{% macro retention_supported_curve_types() -%}
    {%- do return(['first_to_second_order', 'between_orders']) -%}
{%- endmacro %}

{% macro retention_curve_types() -%}
    {%- set curve_types = var('retention_curve_types') -%}
    {%- if curve_types is string -%}
        {%- set curve_types = [curve_types] -%}
    {%- endif -%}
    {%- if curve_types | length == 0 -%}
        {{ exceptions.raise_compiler_error("var retention_curve_types is empty: give at least one of " ~ retention_supported_curve_types() | join(', ') ~ ".") }}
    {%- endif -%}
    {%- for curve_type in curve_types if curve_type not in retention_supported_curve_types() -%}
        {{ exceptions.raise_compiler_error("var retention_curve_types: unknown curve type '" ~ curve_type ~ "' (supported: " ~ retention_supported_curve_types() | join(', ') ~ ").") }}
    {%- endfor -%}
    {%- do return(curve_types | unique | list) -%}
{%- endmacro %}
