-- Quarantine at a glance: rejected raw rows per table and reason, with one example detail.
{%- set tables = ['customers', 'products', 'orders', 'order_items', 'events', 'reviews', 'marketing_spend', 'experiment_assignments'] %}
with rejected as (
    {%- for table_name in tables %}
    select table_name, rejected_reason, rejected_detail
    from {{ ref('stg_shop__' ~ table_name ~ '_rejected') }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select
    table_name,
    rejected_reason,
    cast(count(*) as bigint)  as rejected_rows,
    min(rejected_detail)      as example_detail
from rejected
group by table_name, rejected_reason
