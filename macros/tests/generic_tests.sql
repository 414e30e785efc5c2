{#- The few generic tests the project needs (the dbt package hub is unreachable, so no
    dbt_utils / dbt_expectations). Each returns the failing rows. -#}

{#- Values outside [min, max] (nulls pass; pair with not_null where nulls are wrong). -#}
{% test in_range(model, column_name, min=none, max=none) %}
select {{ column_name }}
from {{ model }}
where
    {%- if min is not none %} {{ column_name }} < {{ min }}{% endif %}
    {%- if min is not none and max is not none %} or{% endif %}
    {%- if max is not none %} {{ column_name }} > {{ max }}{% endif %}
{% endtest %}

{#- Rows where a boolean SQL expression is not true. -#}
{% test expression_is_true(model, expression, column_name=none, where_clause=none) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{%- if where_clause %} and ({{ where_clause }}){% endif %}
{% endtest %}

{#- Duplicated combinations of columns (the grain of a table). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
select {{ combination_of_columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- Fails when the model has fewer than min_rows rows (guards against silently empty marts). -#}
{% test has_at_least_rows(model, min_rows=1) %}
select count(*) as n_rows
from {{ model }}
having count(*) < {{ min_rows }}
{% endtest %}

{#- Fails unless exactly one row satisfies the condition (e.g. exactly one selected model). -#}
{% test exactly_one_row_where(model, condition) %}
select count(*) as n_rows
from {{ model }}
where {{ condition }}
having count(*) <> 1
{% endtest %}
