-- Incremental (append-only raw table): macros/staging/incremental.sql; README "Daily loads".
{{ incremental_staging_config('orders', key=['order_id'], window_column='ordered_at') }}
{%- set window = staging_window() %}

with source as (
    {{ read_raw('orders', row_hash=true, window=window) }}
),

typed as (
    select
        {{ text_column('order_id') }},
        {{ text_column('customer_id') }},
        {{ typed_column('ordered_at', dbt.type_timestamp(), raw_type=raw_column_type('orders', 'ordered_at')) }},
        {{ text_column('status', lower=true) }},
        {{ typed_column('order_total', 'decimal(18, 2)') }},
        {{ typed_column('discount_total', 'decimal(18, 2)') }},
        raw_row_hash
    from source
)

{{ quarantine('typed',
    key=['order_id'],
    columns=['order_id', 'customer_id', 'ordered_at', 'status', 'order_total', 'discount_total'],
    checks=[
        check_not_null('order_id', reason='null_key'),
        check_not_null('customer_id'),
        check_parses('ordered_at', 'timestamp'),
        check_parses('order_total', 'decimal'),
        check_parses('discount_total', 'decimal'),
        check_not_null('ordered_at'),
        check_not_null('order_total'),
        check_accepted_values('status', ['completed', 'cancelled', 'returned']),
        check_not_negative('order_total'),
        check_not_negative('discount_total'),
        check_suspicious('order_total', 'suspicious_amount_max'),
        check_suspicious('discount_total', 'suspicious_amount_max'),
        check_not_future('ordered_at'),
    ],
    foreign_keys=[{'column': 'customer_id', 'to': ref('base_shop__customers'), 'field': 'customer_id'}],
    window=window) }}
