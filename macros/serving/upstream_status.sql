{#- One row (status, status_reason) that summarises the `status` columns of the given models:
    'degraded' if any row of any of them is, with '<model>: <reason>' for each distinct reason
    joined by ' | '; else 'ok' and a null reason. Serving tables that combine several ML
    outputs use it so a degraded input is visible on the table BI reads. A model without a
    status column counts as ok (the columns are looked up when the model runs, since ML tables
    gain status columns one by one).
        select ... from inputs cross join ({{ upstream_status(['ml_clv_predictions']) }}) as upstream
-#}
{% macro upstream_status(model_names) -%}
    {%- set parts = [] -%}
    {%- for name in model_names -%}
        {%- set relation = ref(name) -%}
        {%- if execute -%}
            {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
            {%- if 'status' in columns and 'status_reason' in columns -%}
                {%- do parts.append("select distinct cast('" ~ name ~ "' as " ~ dbt.type_string() ~ ") as model_name, status_reason from " ~ relation ~ " where status = 'degraded'") -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor %}
    select
        cast(case when count(*) > 0 then 'degraded' else 'ok' end as {{ dbt.type_string() }}) as status,
        cast({{ dbt.listagg("model_name || ': ' || coalesce(status_reason, 'no reason given')", "' | '", "order by model_name, status_reason") }} as {{ dbt.type_string() }}) as status_reason
    from (
        {% if parts -%}
        {{ parts | join('\n        union all\n        ') }}
        {%- else -%}
        select cast(null as {{ dbt.type_string() }}) as model_name, cast(null as {{ dbt.type_string() }}) as status_reason where 1 = 0
        {%- endif %}
    ) as degraded_inputs
{%- endmacro %}
