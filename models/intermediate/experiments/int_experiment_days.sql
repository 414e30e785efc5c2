-- One row per experiment and day since its start (its first assigned_at): day d ends at
-- observed_until_at = start + d days. Days run until every conversion window has closed or
-- as_of (N = var experiment_conversion_window_days), at most 999. The sequential view's calendar.
{%- set window_days = var('experiment_conversion_window_days') %}

with experiments as (
    select
        experiment_id,
        min(assigned_at)                                                            as experiment_start_at,
        {{ days_between('min(assigned_at)',
            'least(max(' ~ dbt.dateadd('day', window_days, 'assigned_at') ~ '), ' ~ as_of() ~ ')') }} + 1 as days
    from {{ ref('stg_shop__experiment_assignments') }}
    where assigned_at <= {{ as_of() }}
    group by experiment_id
),

digits as (
    select 0 as d
    union all
    select 1
    union all
    select 2
    union all
    select 3
    union all
    select 4
    union all
    select 5
    union all
    select 6
    union all
    select 7
    union all
    select 8
    union all
    select 9
),

day_numbers as (
    -- 1..999: portable day spine (a window longer than that is cut, with the experiment).
    select ones.d + 10 * tens.d + 100 * hundreds.d                                  as day_number
    from digits as ones
    cross join digits as tens
    cross join digits as hundreds
    where ones.d + 10 * tens.d + 100 * hundreds.d >= 1
)

select
    experiments.experiment_id,
    cast(day_numbers.day_number as integer)                                         as days_since_start,
    experiments.experiment_start_at,
    {{ dbt.dateadd('day', 'day_numbers.day_number', 'experiments.experiment_start_at') }} as observed_until_at
from experiments
inner join day_numbers on day_numbers.day_number <= experiments.days
