{#- Override of dbt-duckdb's py_write_table (dbt/include/duckdb/macros/adapters.sql, 1.11): the
    same table write, but the model's body and the write of its frame run inside
    ecom_growth.dbt_plugin.python_model_slot. dbt-duckdb runs Python models in the dbt process;
    with var python_models_one_at_a_time (true, or a list of model names) the slot is exclusive,
    so two such models' frames are never resident at once (threads: 2 otherwise adds them up on
    top of DuckDB's buffer pool), and DuckDB's memory_limit is lowered to var
    python_models_one_at_a_time_memory_limit while it runs (its cached blocks are evicted). The
    wrapped model returns WRITTEN and dbt-duckdb's call of materialize() then has nothing to do. -#}
{% macro py_write_table(temporary, relation, compiled_code, partitioned_by=none, sorted_by=none) -%}
{%- set one_at_a_time = var('python_models_one_at_a_time') -%}
{%- if one_at_a_time is sameas true or one_at_a_time is sameas false -%}
  {%- set exclusive = one_at_a_time -%}
{%- else -%}
  {#- a list of model names: only these take the slot (they never run beside each other) -#}
  {%- set exclusive = model.name in one_at_a_time -%}
{%- endif %}
{#- while an exclusive model runs DuckDB's pool is capped at this (then the profile's limit again) -#}
{%- set slot_limit = var('python_models_one_at_a_time_memory_limit') -%}
{%- set profile_limit = (target.get('settings') or {}).get('memory_limit') -%}
{{ compiled_code }}

import ecom_growth.dbt_plugin as _ecom_growth_plugin

_ecom_growth_model_body = model


def model(dbt, session):
    with _ecom_growth_plugin.python_model_slot(
            '{{ model.name }}', exclusive={{ 'True' if exclusive else 'False' }}, session=session,
            memory_limit={{ "'" ~ slot_limit ~ "'" if slot_limit else 'None' }},
            restore_memory_limit={{ "'" ~ profile_limit ~ "'" if profile_limit else 'None' }}):
        df = _ecom_growth_model_body(dbt, session)
        _ecom_growth_write(df, session)
        del df
    return _ecom_growth_plugin.WRITTEN


def materialize(df, con):
    if df is not _ecom_growth_plugin.WRITTEN:
        _ecom_growth_write(df, con)


def _ecom_growth_write(df, con):
    try:
        import pyarrow
        pyarrow_available = True
    except ImportError:
        pyarrow_available = False
    finally:
        if pyarrow_available and isinstance(df, pyarrow.Table):
            # https://github.com/duckdb/duckdb/issues/6584
            import pyarrow.dataset
    tmp_name = '__dbt_python_model_df_' + '{{ relation.identifier }}'
    con.register(tmp_name, df)
    {% if partitioned_by or sorted_by %}
    con.execute('create table {{ relation }} as select * from ' + tmp_name + ' limit 0')
    {% if partitioned_by %}
    con.execute('alter table {{ relation }} set partitioned by ({{ partitioned_by }})')
    {% endif %}
    {% if sorted_by %}
    con.execute('alter table {{ relation }} set sorted by ({{ sorted_by }})')
    {% endif %}
    con.execute('insert into {{ relation }} select * from ' + tmp_name)
    {% else %}
    con.execute('create table {{ relation }} as select * from ' + tmp_name)
    {% endif %}
    con.unregister(tmp_name)
{% endmacro %}
