-- Rows per raw file, counted straight from the files (not from the base models), so
-- fct_raw_reconciliation can prove raw = clean + quarantined independently of staging logic.
{%- set tables = shop_raw_tables() %}
{% for table_name in tables %}
select '{{ table_name }}' as table_name, count(*) as raw_rows
from ({{ read_raw(table_name) }}) as raw_{{ table_name }}
{% if not loop.last %}union all{% endif %}
{%- endfor %}
