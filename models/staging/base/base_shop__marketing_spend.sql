with source as (
    {{ read_raw('marketing_spend') }}
),

typed as (
    select
        {{ typed_column('spend_date', 'date') }},
        {{ text_column('channel', lower=true) }},
        {{ typed_column('spend', 'decimal(18, 2)') }}
    from source
)

{{ quarantine('typed',
    key=['spend_date', 'channel'],
    columns=['spend_date', 'channel', 'spend'],
    checks=[
        check_not_null('channel', reason='null_key'),
        check_parses('spend_date', 'date'),
        check_not_null('spend_date', reason='null_key'),
        check_parses('spend', 'decimal'),
        check_not_null('spend'),
        check_not_negative('spend'),
        check_suspicious('spend', 'suspicious_amount_max'),
        check_not_future('spend_date'),
    ]) }}
