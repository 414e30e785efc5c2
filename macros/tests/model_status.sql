{#- Warns (never fails the build) when an ML table reports that its model could not be fitted
    as specified on this shop's data. Every ML table carries `status` ('ok' or 'degraded') and
    `status_reason` (words, null when ok); a degraded table still holds usable rows from the
    documented fallback, so downstream models keep building. Use on the table:
        data_tests:
          - model_status_ok
-#}
{% test model_status_ok(model, status_column='status', reason_column='status_reason') %}
{{ config(severity='warn') }}
select {{ status_column }}, {{ reason_column }}, count(*) as n_rows
from {{ model }}
where {{ status_column }} <> 'ok'
group by {{ status_column }}, {{ reason_column }}
{% endtest %}
