with source as (
    {{ read_raw('experiment_assignments') }}
),

typed as (
    select
        {{ text_column('experiment_id') }},
        {{ text_column('customer_id') }},
        {{ text_column('variant', lower=true) }},
        {{ typed_column('assigned_at', dbt.type_timestamp()) }}
    from source
)

{{ quarantine('typed',
    key=['experiment_id', 'customer_id'],
    columns=['experiment_id', 'customer_id', 'variant', 'assigned_at'],
    checks=[
        check_not_null('experiment_id', reason='null_key'),
        check_not_null('customer_id', reason='null_key'),
        check_parses('assigned_at', 'timestamp'),
        check_not_null('assigned_at'),
        check_not_null('variant'),
        check_not_future('assigned_at'),
    ],
    foreign_keys=[{'column': 'customer_id', 'to': ref('base_shop__customers'), 'field': 'customer_id'}]) }}
