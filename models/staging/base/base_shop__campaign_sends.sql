with source as (
    {{ read_raw('campaign_sends') }}
),

typed as (
    select
        {{ text_column('campaign_id') }},
        {{ text_column('customer_id') }},
        {{ typed_column('sent_at', dbt.type_timestamp()) }},
        {{ text_column('action', lower=true) }},
        {{ typed_column('coupon_value', 'decimal(18, 2)') }},
        {{ typed_column('is_control', dbt.type_boolean()) }}
    from source
)

{{ quarantine('typed',
    key=['campaign_id', 'customer_id'],
    columns=['campaign_id', 'customer_id', 'sent_at', 'action', 'coupon_value', 'is_control'],
    checks=[
        check_not_null('campaign_id', reason='null_key'),
        check_not_null('customer_id', reason='null_key'),
        check_parses('sent_at', 'timestamp'),
        check_not_null('sent_at'),
        check_not_null('action'),
        check_parses('coupon_value', 'decimal'),
        check_not_null('coupon_value'),
        check_not_negative('coupon_value'),
        check_parses('is_control', 'boolean'),
        check_not_null('is_control'),
        check_not_future('sent_at'),
    ],
    foreign_keys=[{'column': 'customer_id', 'to': ref('base_shop__customers'), 'field': 'customer_id'}]) }}
