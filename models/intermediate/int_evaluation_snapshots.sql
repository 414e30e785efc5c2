-- Which snapshot the recommender evaluation's inputs hold in this build (macros/interactions/
-- evaluation_snapshot.sql): the stored one when evaluation_snapshot_keep_rule keeps it (a daily
-- build with ml_retrain_after_days), else a new one at this build's as_of. One row per evaluation
-- (today only 'recommender'); incremental so that the rule can read the previous decision.
{{ config(materialized='incremental', unique_key='evaluation', incremental_strategy='delete+insert',
          on_schema_change='sync_all_columns') }}
{%- set holdout_days = var('recommender_holdout_days') | int %}
{%- set validation_days = holdout_days + var('recommender_validation_days') | int %}
with current_snapshot as (
    select
        as_of,
        {{ evaluation_snapshot_settings_digest() }} as settings_digest
    from {{ ref('int_as_of') }}
),

previous_snapshot as (
    {%- if is_incremental() %}
    select as_of, settings_digest
    from {{ this }}
    where evaluation = 'recommender'
    {%- else %}
    select cast(null as {{ dbt.type_timestamp() }}) as as_of, cast(null as {{ dbt.type_string() }}) as settings_digest
    where 1 = 0
    {%- endif %}
),

decided as (
    select
        current_snapshot.as_of as build_as_of,
        current_snapshot.settings_digest,
        previous_snapshot.as_of as previous_as_of,
        {{ evaluation_snapshot_keep_rule('previous_snapshot.as_of', 'previous_snapshot.settings_digest',
                                         'current_snapshot.as_of', 'current_snapshot.settings_digest',
                                         var('ml_retrain_after_days')) }} as is_kept
    from current_snapshot
    left join previous_snapshot on 1 = 1
),

snapshot as (
    select
        case when is_kept then previous_as_of else build_as_of end as as_of,
        settings_digest,
        is_kept,
        build_as_of
    from decided
)

select
    cast('recommender' as {{ dbt.type_string() }}) as evaluation,
    as_of,
    {{ dbt.dateadd('day', -1 * holdout_days, 'as_of') }} as test_cutoff_at,
    {{ dbt.dateadd('day', -1 * validation_days, 'as_of') }} as validation_cutoff_at,
    settings_digest,
    is_kept,
    build_as_of
from snapshot
