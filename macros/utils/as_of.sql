{#- The analysis timestamp as a scalar SQL expression (see int_as_of). Calling it makes the
    model depend on int_as_of. -#}
{% macro as_of() -%}
    (select as_of from {{ ref('int_as_of') }})
{%- endmacro %}

{% macro as_of_date() -%}
    cast({{ as_of() }} as date)
{%- endmacro %}
