with source as (
    {{ read_raw('support_tickets') }}
),

typed as (
    select
        {{ text_column('ticket_id') }},
        {{ text_column('customer_id') }},
        {{ typed_column('created_at', dbt.type_timestamp()) }},
        {{ text_column('channel', lower=true) }},
        {{ text_column('subject') }},
        {{ text_column('body') }},
        {{ text_column('status', lower=true) }},
        {{ typed_column('resolved_at', dbt.type_timestamp()) }}
    from source
)

{{ quarantine('typed',
    key=['ticket_id'],
    columns=['ticket_id', 'customer_id', 'created_at', 'channel', 'subject', 'body', 'status', 'resolved_at'],
    checks=[
        check_not_null('ticket_id', reason='null_key'),
        check_not_null('customer_id'),
        check_parses('created_at', 'timestamp'),
        check_parses('resolved_at', 'timestamp'),
        check_not_null('created_at'),
        check_accepted_values('status', ['open', 'pending', 'resolved', 'closed']),
        check_not_future('created_at'),
        check_not_future('resolved_at'),
    ],
    foreign_keys=[{'column': 'customer_id', 'to': ref('base_shop__customers'), 'field': 'customer_id'}]) }}
