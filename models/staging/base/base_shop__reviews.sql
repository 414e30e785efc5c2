with source as (
    {{ read_raw('reviews') }}
),

typed as (
    select
        {{ text_column('review_id') }},
        {{ text_column('customer_id') }},
        {{ text_column('product_id') }},
        {{ typed_column('rating', dbt.type_int()) }},
        {{ text_column('review_text') }},
        {{ typed_column('created_at', dbt.type_timestamp()) }}
    from source
)

{{ quarantine('typed',
    key=['review_id'],
    columns=['review_id', 'customer_id', 'product_id', 'rating', 'review_text', 'created_at'],
    checks=[
        check_not_null('review_id', reason='null_key'),
        check_parses('rating', 'integer'),
        check_parses('created_at', 'timestamp'),
        check_not_null('rating'),
        check_not_null('created_at'),
        check_between('rating', 1, 5),
        check_not_future('created_at'),
    ],
    foreign_keys=[
        {'column': 'customer_id', 'to': ref('base_shop__customers'), 'field': 'customer_id'},
        {'column': 'product_id', 'to': ref('base_shop__products'), 'field': 'product_id'},
    ]) }}
