-- Every raw customer row, typed, with the reason it is rejected (null when it is clean).
-- stg_shop__customers and stg_shop__customers_rejected split this table.
with source as (
    {{ read_raw('customers') }}
),

typed as (
    select
        {{ text_column('customer_id') }},
        {{ typed_column('signup_at', dbt.type_timestamp()) }},
        -- PII: only the salted hash leaves this CTE, never the address itself.
        {{ pseudonymize("nullif(trim(cast(email as varchar)), '')") }} as email_hash,
        upper(nullif(trim(cast(country as varchar)), '')) as country,
        {{ text_column('acquisition_channel', lower=true) }}
    from source
)

{{ quarantine('typed',
    key=['customer_id'],
    columns=['customer_id', 'signup_at', 'email_hash', 'country', 'acquisition_channel'],
    checks=[
        check_not_null('customer_id', reason='null_key'),
        check_parses('signup_at', 'timestamp'),
        check_not_null('signup_at'),
        check_not_future('signup_at'),
        check_not_null('acquisition_channel'),
    ]) }}
