with source as (
    {{ read_raw('products') }}
),

typed as (
    select
        {{ text_column('product_id') }},
        {{ text_column('category', lower=true) }},
        {{ text_column('brand') }},
        {{ typed_column('list_price', 'decimal(18, 2)') }}
    from source
)

{{ quarantine('typed',
    key=['product_id'],
    columns=['product_id', 'category', 'brand', 'list_price'],
    checks=[
        check_not_null('product_id', reason='null_key'),
        check_parses('list_price', 'decimal'),
        check_not_null('list_price'),
        check_not_negative('list_price'),
        check_suspicious('list_price', 'suspicious_amount_max'),
    ]) }}
