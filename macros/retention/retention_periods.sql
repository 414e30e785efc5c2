{#- Calendar periods for the retention marts (fct_cohort_retention, fct_retention_curves).

    A period is a calendar interval [period_start, next period_start) at a grain (week: ISO,
    starting Monday, as dbt.date_trunc does on DuckDB; month: the first of the month; ...).
    Everything is built from dbt's cross-database date macros; the one DuckDB-only piece, the
    integer series behind the dense grid, is dispatched so another adapter can supply its own.
-#}

{#- First day (a date) of the period containing a timestamp or date. -#}
{% macro retention_period_start(grain, expression) -%}
    cast({{ dbt.date_trunc(grain, expression) }} as date)
{%- endmacro %}

{#- Whole periods from one period start to another (both already truncated to the grain). -#}
{% macro retention_periods_between(start_date, end_date, grain) -%}
    {%- if grain == 'week' -%}
        cast({{ dbt.datediff(start_date, end_date, 'day') }} / 7 as bigint)
    {%- elif grain == 'quarter' -%}
        cast({{ dbt.datediff(start_date, end_date, 'month') }} / 3 as bigint)
    {%- else -%}
        cast({{ dbt.datediff(start_date, end_date, grain) }} as bigint)
    {%- endif -%}
{%- endmacro %}

{#- The period start `periods` periods after a period start. -#}
{% macro retention_period_add(grain, periods, start_date) -%}
    cast({{ dbt.dateadd(grain, periods, start_date) }} as date)
{%- endmacro %}

{#- A one-column relation of the integers 0..upper_bound (a SQL scalar expression, evaluated at
    run time, so the grid grows with the data instead of being capped at compile time). -#}
{% macro retention_integer_series(upper_bound, column_name='n') -%}
    {{ return(adapter.dispatch('retention_integer_series', 'ecom_growth')(upper_bound, column_name)) }}
{%- endmacro %}

{% macro default__retention_integer_series(upper_bound, column_name='n') -%}
    select cast(series.{{ column_name }} as bigint) as {{ column_name }}
    from range(0, cast(coalesce(({{ upper_bound }}), -1) as bigint) + 1) as series({{ column_name }})
{%- endmacro %}

{#- SQL literal list for a Jinja list of numbers, as rows: select 7 as day union all ... -#}
{% macro retention_values_as_rows(values, column_name, data_type) -%}
    {%- for value in values %}
    select cast({{ value }} as {{ data_type }}) as {{ column_name }}{{ ' union all' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- Whole days from one timestamp to a later one, rounded up: a gap of 29.3 days is on day 30,
    so "within D days" (gap <= D) is exactly "whole days <= D" for whole D. -#}
{% macro retention_whole_days_between(start, end) -%}
    cast(ceil({{ days_between(start, end) }}) as bigint)
{%- endmacro %}
