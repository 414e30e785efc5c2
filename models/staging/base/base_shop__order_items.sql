-- Incremental (append-only raw table): macros/staging/incremental.sql; README "Daily loads".
{{ incremental_staging_config('order_items', key=['order_id', 'product_id'],
    window_parent={'model': 'base_shop__orders', 'key': 'order_id', 'column': 'ordered_at'}) }}
{%- set window = staging_window() %}

with source as (
    {{ read_raw('order_items', row_hash=true, window=window) }}
),

typed as (
    select
        {{ text_column('order_id') }},
        {{ text_column('product_id') }},
        {{ typed_column('quantity', dbt.type_int()) }},
        {{ typed_column('unit_price', 'decimal(18, 2)') }},
        raw_row_hash
    from source
)

{{ quarantine('typed',
    key=['order_id', 'product_id'],
    columns=['order_id', 'product_id', 'quantity', 'unit_price'],
    checks=[
        check_not_null('order_id', reason='null_key'),
        check_not_null('product_id', reason='null_key'),
        check_parses('quantity', 'integer'),
        check_parses('unit_price', 'decimal'),
        check_not_null('quantity'),
        check_not_null('unit_price'),
        check_not_negative('unit_price'),
        check_not_negative('quantity', strictly_positive=true),
        check_suspicious('unit_price', 'suspicious_amount_max'),
        check_suspicious('quantity', 'suspicious_quantity_max'),
    ],
    foreign_keys=[
        {'column': 'order_id', 'to': ref('base_shop__orders'), 'field': 'order_id'},
        {'column': 'product_id', 'to': ref('base_shop__products'), 'field': 'product_id'},
    ],
    window=window) }}
