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

{#- Duplicated combinations of columns (the grain of a table). Grouping tens of millions of rows on
    their key columns is the cost of a grain test, so rows are first grouped on a 64-bit hash of the
    combination (one narrow integer key); only combinations whose hash repeats are grouped exactly
    (nulls hash alike, so they group as GROUP BY groups them): the same failing rows. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
{%- set columns = combination_of_columns | join(', ') %}
with repeated_hashes as (
    select hash({{ columns }}) as combination_hash
    from {{ model }}
    group by combination_hash
    having count(*) > 1
)

select {{ columns }}, count(*) as n_rows
from {{ model }}
where hash({{ columns }}) in (select combination_hash from repeated_hashes)
group by {{ columns }}
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
