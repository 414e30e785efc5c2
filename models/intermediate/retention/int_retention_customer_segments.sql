-- THE one place that says how the retention marts slice customers: one row per customer (signed
-- up by as_of) and segment_type. fct_cohort_retention and fct_retention_curves group by
-- (segment_type, segment_value), so a new cohort dimension is one entry in `segment_columns`
-- below (or `--vars '{retention_segment_columns: [acquisition_channel, country]}'`); a derived
-- dimension is one more column in the `customers` CTE. No mart SQL, contract or test changes.
{%- set segment_columns = var('retention_segment_columns') %}

with customers as (
    select
        customer_id,
        acquisition_channel,
        country
    from {{ ref('stg_shop__customers') }}
    where signup_at <= {{ as_of() }}
)

-- 'overall' keeps every customer in one segment, so the whole-cohort view is always there.
select
    customer_id,
    cast('overall' as {{ dbt.type_string() }}) as segment_type,
    cast('all' as {{ dbt.type_string() }})     as segment_value
from customers
{%- for column in segment_columns %}

union all

-- A missing value is its own segment ('unknown'), so each segment_type still partitions the
-- customers and its segments add up to 'overall'.
select
    customer_id,
    cast('{{ column }}' as {{ dbt.type_string() }})                                      as segment_type,
    coalesce(cast({{ column }} as {{ dbt.type_string() }}), 'unknown')                   as segment_value
from customers
{%- endfor %}
