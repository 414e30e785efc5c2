-- typed_column skips text parsing for raw columns stored as a native TIMESTAMP (macro
-- native_utc_timestamp). It must give exactly what utc_timestamp gives on the same values, which
-- is what the base models computed before: checked here on edge values (sub-second, year 1 and
-- 9999, BC, past 9999, +-infinity, null). Returns the values where the two differ.
with cases as (
    select * from (values
        (timestamp '2024-07-01 00:07:05.308351'),
        (timestamp '2024-07-01 00:00:00'),
        (timestamp '0001-01-01 00:00:00'),
        (timestamp '0999-12-31 23:59:59.999999'),
        (timestamp '9999-12-31 23:59:59.999999'),
        (timestamp '10000-01-01 00:00:00'),
        (make_timestamp(-44, 3, 15, 12, 0, 0)),
        (timestamp 'infinity'),
        (timestamp '-infinity'),
        (cast(null as timestamp))
    ) as fixed_cases (raw_value)  -- noqa: AL05
),

typed as (
    select
        raw_value,
        {{ native_utc_timestamp('raw_value') }} as native_value,
        {{ utc_timestamp('raw_value') }} as parsed_value
    from cases
)

select cast(raw_value as varchar) as raw_text, native_value, parsed_value
from typed
where native_value is distinct from parsed_value
