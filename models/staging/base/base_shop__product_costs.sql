with source as (
    {{ read_raw('product_costs') }}
),

typed as (
    select
        {{ text_column('product_id') }},
        {{ typed_column('unit_cost', 'decimal(18, 2)') }}
    from source
)

{{ quarantine('typed',
    key=['product_id'],
    columns=['product_id', 'unit_cost'],
    checks=[
        check_not_null('product_id', reason='null_key'),
        check_parses('unit_cost', 'decimal'),
        check_not_null('unit_cost'),
        check_not_negative('unit_cost'),
    ],
    foreign_keys=[
        {'column': 'product_id', 'to': ref('base_shop__products'), 'field': 'product_id'},
    ]) }}
