-- Incremental (append-only raw table): macros/staging/incremental.sql; README "Daily loads".
{{ incremental_staging_config('events', key=['event_id'], window_column='occurred_at') }}
{%- set window = staging_window() %}

with source as (
    {{ read_raw('events', row_hash=true, window=window) }}
),

typed as (
    select
        {{ text_column('event_id') }},
        {{ text_column('customer_id') }},
        {{ text_column('session_id') }},
        {{ text_column('event_type', lower=true) }},
        {{ text_column('product_id') }},
        {{ typed_column('occurred_at', dbt.type_timestamp(), raw_type=raw_column_type('events', 'occurred_at')) }},
        raw_row_hash
    from source
)

{{ quarantine('typed',
    key=['event_id'],
    columns=['event_id', 'customer_id', 'session_id', 'event_type', 'product_id', 'occurred_at'],
    checks=[
        check_not_null('event_id', reason='null_key'),
        check_parses('occurred_at', 'timestamp'),
        check_not_null('occurred_at'),
        check_not_null('customer_id'),
        check_not_null('session_id'),
        check_accepted_values('event_type', ['view', 'add_to_cart', 'purchase']),
        check_not_future('occurred_at'),
    ],
    foreign_keys=[
        {'column': 'customer_id', 'to': ref('base_shop__customers'), 'field': 'customer_id'},
        {'column': 'product_id', 'to': ref('base_shop__products'), 'field': 'product_id'},
    ],
    window=window) }}
