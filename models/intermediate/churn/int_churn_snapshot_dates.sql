-- The snapshot grid of the churn model: one scoring snapshot at as_of plus
-- churn_snapshot_count labelled snapshots, churn_snapshot_interval_days apart.
--
-- Boundary convention: a snapshot_date D stands for the instant D 00:00 (snapshot_at).
-- Features use rows strictly before it; the churn label looks at [D, D + churn_window_days).
-- The scoring snapshot is the day AFTER as_of's date, so the as_of day's orders are features;
-- rows after as_of itself stay excluded (int_churn_snapshots also caps every input at as_of).
-- The latest labelled snapshot is date(as_of) - churn_window_days: its label window ends at
-- date(as_of) 00:00 <= as_of, so every label is fully observed, whatever as_of's time of day.
{%- set window_days = churn_var('churn_window_days') %}
{%- set snapshot_count = churn_var('churn_snapshot_count') %}
{%- set interval_days = churn_var('churn_snapshot_interval_days') %}

with as_of as (
    select as_of, cast(as_of as date) as as_of_date
    from {{ ref('int_as_of') }}
),

offsets as (
    -- 0 = scoring snapshot, 1..n = labelled snapshots, latest first
    {%- for snapshot_number in range(snapshot_count + 1) %}
    select {{ snapshot_number }} as snapshot_number{{ ' union all' if not loop.last }}
    {%- endfor %}
),

dated as (
    select
        offsets.snapshot_number,
        cast(case
            when offsets.snapshot_number = 0
                then {{ dbt.dateadd('day', 1, 'as_of.as_of_date') }}
            else {{ dbt.dateadd(
                'day',
                '-(' ~ window_days ~ ' + (offsets.snapshot_number - 1) * ' ~ interval_days ~ ')',
                'as_of.as_of_date') }}
        end as date) as snapshot_date,
        offsets.snapshot_number = 0 as is_scoring_snapshot,
        as_of.as_of
    from offsets
    cross join as_of
)

select
    snapshot_number,
    snapshot_date,
    cast(snapshot_date as {{ dbt.type_timestamp() }}) as snapshot_at,
    is_scoring_snapshot,
    case when not is_scoring_snapshot then
        cast({{ dbt.dateadd('day', window_days, 'snapshot_date') }} as {{ dbt.type_timestamp() }})
    end as label_window_end_at,
    as_of
from dated
