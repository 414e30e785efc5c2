{#- The revenue windows (days after the first order) the acquisition models compute: the
    windows in var revenue_windows_days plus 30, 90 and 180, which fct_channel_acquisition
    always exposes (fixed column names are part of its contract), sorted and unique. -#}
{% macro acquisition_revenue_windows_days() -%}
    {%- set windows = var('revenue_windows_days', [30, 90, 180]) -%}
    {%- if windows is string or windows is number -%}
        {{ exceptions.raise_compiler_error("var revenue_windows_days must be a list of whole days, got: " ~ windows) }}
    {%- endif -%}
    {%- set days = [] -%}
    {%- for window in (windows | list) + [30, 90, 180] -%}
        {%- if window | int <= 0 -%}
            {{ exceptions.raise_compiler_error("var revenue_windows_days must hold positive whole days, got: " ~ window) }}
        {%- endif -%}
        {%- if window | int not in days -%}{%- do days.append(window | int) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(days | sort) }}
{%- endmacro %}
