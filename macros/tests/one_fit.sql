{#- Fit metadata tests (ecom_growth.model_store): nothing is fitted twice in one build.
    one_fit: a model table holds exactly one fit (one non-null fit_id over all rows); an empty
    table (nothing to fit, e.g. a shop without completed orders) has no fit and passes.
    same_fit_as: a table computed from a stored model carries that model's single fit_id. -#}
{% test one_fit(model, column_name) %}
select count(distinct {{ column_name }}) as fits, count(*) - count({{ column_name }}) as rows_without_fit
from {{ model }}
having count(*) > 0 and (count(distinct {{ column_name }}) <> 1 or count(*) <> count({{ column_name }}))
{% endtest %}

{% test same_fit_as(model, column_name, to) %}
select distinct {{ column_name }}
from {{ model }}
where {{ column_name }} is null
    or {{ column_name }} not in (select fit_id from {{ to }})
    or (select count(distinct fit_id) from {{ to }}) <> 1
{% endtest %}
