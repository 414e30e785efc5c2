{#- The revenue windows (days after the first order) of the acquisition models: 30, 90 and 180.
    They are fixed on purpose: fct_channel_acquisition(_summary) expose one contracted column
    per window (revenue_per_customer_30d, ...), and a contract needs fixed column names, so a
    var could only ever disagree with the contract. Another window is a contract change: edit
    this list and the two marts' YAML. The former var revenue_windows_days is rejected rather
    than silently ignored. -#}
{% macro acquisition_revenue_windows_days() -%}
    {%- if var('revenue_windows_days', none) is not none -%}
        {{ exceptions.raise_compiler_error(
            "var revenue_windows_days was removed: the acquisition revenue windows are fixed at"
            ~ " 30, 90 and 180 days (contracted columns, see macros/acquisition/revenue_windows.sql)") }}
    {%- endif -%}
    {{ return([30, 90, 180]) }}
{%- endmacro %}
