-- The analysis date every window is relative to: var('as_of') when set (a backtest),
-- otherwise the latest valid order timestamp. Never the wall clock, so builds reproduce.
with latest as (
    select max(ordered_at) as latest_order_at
    from {{ ref('stg_shop__orders') }}
)

select
    {%- if var('as_of') %}
    cast('{{ var("as_of") }}' as {{ dbt.type_timestamp() }}) as as_of,
    'var' as as_of_source,
    {%- else %}
    latest_order_at as as_of,
    'latest_order' as as_of_source,
    {%- endif %}
    latest_order_at
from latest
