with source as (
    {{ read_raw('price_history') }}
),

typed as (
    select
        {{ text_column('product_id') }},
        {{ typed_column('valid_from', dbt.type_timestamp()) }},
        {{ typed_column('list_price', 'decimal(18, 2)') }},
        {{ typed_column('is_promotion', dbt.type_boolean()) }}
    from source
)

{{ quarantine('typed',
    key=['product_id', 'valid_from'],
    columns=['product_id', 'valid_from', 'list_price', 'is_promotion'],
    checks=[
        check_not_null('product_id', reason='null_key'),
        check_parses('valid_from', 'timestamp'),
        check_not_null('valid_from', reason='null_key'),
        check_parses('list_price', 'decimal'),
        check_not_null('list_price'),
        check_not_negative('list_price', strictly_positive=true),
        check_parses('is_promotion', 'boolean'),
        check_not_null('is_promotion'),
        check_not_future('valid_from'),
    ],
    foreign_keys=[
        {'column': 'product_id', 'to': ref('base_shop__products'), 'field': 'product_id'},
    ]) }}
