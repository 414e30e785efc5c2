{#- The rejected side of a base model: every contract column as the raw text it arrived as
    (typed_column keeps <col>__raw; text columns are already text), plus reason and detail.
    Emails only ever appear hashed. -#}
{% macro rejected_rows(base_relation, table_name) -%}
    {%- set contract = raw_table_contract(table_name) -%}
    {%- set available = [] -%}
    {%- if execute -%}
        {%- for column in adapter.get_columns_in_relation(base_relation) -%}
            {%- do available.append(column.name | lower) -%}
        {%- endfor -%}
    {%- endif %}
select
    '{{ table_name }}' as table_name,
    rejected_reason,
    rejected_detail,
    {%- for column in contract.columns %}
    {%- if column == 'email' %}
    email_hash{{ ',' if not loop.last }}
    {%- elif (column ~ '__raw') in available %}
    {{ column }}__raw as {{ column }}{{ ',' if not loop.last }}
    {%- else %}
    cast({{ column }} as varchar) as {{ column }}{{ ',' if not loop.last }}
    {%- endif %}
    {%- endfor %}
from {{ base_relation }}
where rejected_reason is not null
{%- endmacro %}
