-- Nothing is lost: per raw table, rows read = rows kept clean + rows quarantined (with a reason).
{%- set tables = shop_raw_tables() %}
with staged as (
    {%- for table_name in tables %}
    select
        '{{ table_name }}' as table_name,
        (select count(*) from {{ ref('stg_shop__' ~ table_name) }}) as clean_rows,
        (select count(*) from {{ ref('stg_shop__' ~ table_name ~ '_rejected') }}) as rejected_rows
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select
    raw.table_name,
    cast(raw.raw_rows as bigint)                               as raw_rows,
    cast(staged.clean_rows as bigint)                          as clean_rows,
    cast(staged.rejected_rows as bigint)                       as rejected_rows,
    raw.raw_rows = staged.clean_rows + staged.rejected_rows    as is_reconciled
from {{ ref('stg_shop__raw_row_counts') }} as raw
inner join staged on raw.table_name = staged.table_name
