-- Quarantine at a glance: rejected raw rows per table and reason, with one example detail, plus
-- rows kept with a documented repair (outcome 'repaired').
{%- set tables = shop_raw_tables() %}
with rejected as (
    {%- for table_name in tables %}
    select table_name, rejected_reason, rejected_detail
    from {{ ref('stg_shop__' ~ table_name ~ '_rejected') }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

repaired as (
    select
        'customers'                 as table_name,
        'signup_after_first_order'  as rejected_reason,
        'customer_id = ' || customer_id || ': signup_at ' || cast(reported_signup_at as varchar)
            || ' set to the first order time ' || cast(signup_at as varchar) as rejected_detail
    from {{ ref('stg_shop__customers') }}
    where is_signup_repaired
)

select
    table_name,
    rejected_reason,
    cast(count(*) as bigint)  as rejected_rows,
    min(rejected_detail)      as example_detail,
    'quarantined'             as outcome
from rejected
group by table_name, rejected_reason

union all

select
    table_name,
    rejected_reason,
    cast(count(*) as bigint)  as rejected_rows,
    min(rejected_detail)      as example_detail,
    'repaired'                as outcome
from repaired
group by table_name, rejected_reason
