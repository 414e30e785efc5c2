{#- The recommender evaluation's inputs (int_user_item_interactions_before_holdout, the training
    side, and int_holdout_purchases, the labels) form one "evaluation snapshot": the rows of both
    at one as_of. With var ml_retrain_after_days > 0 a daily build keeps the stored snapshot, as
    ml_recommender_evaluation keeps its stored result, instead of rebuilding 30M+ rows nobody
    reads. int_evaluation_snapshots decides ONCE per build, by evaluation_snapshot_keep_rule,
    which snapshot (which as_of) holds; both input models follow that decision (keep their rows
    when they hold that snapshot, else replace all of them with rows at its as_of), so the two
    are kept or rebuilt as a unit and can never mix two cutoffs. -#}

{#- Everything the snapshot's rows depend on besides the data, as a SQL string expression: the
    windows, the half-lives (one strength column each), the model code of both inputs (an edit
    rebuilds: conservative) and a version of the interactions macro's definition (bump it when
    user_item_interactions changes meaning), followed by the event_weights seed's content. -#}
{% macro evaluation_snapshot_settings_digest() -%}
    {%- set settings = {
        'definition_version': 1,
        'recommender_holdout_days': var('recommender_holdout_days') | int,
        'recommender_validation_days': var('recommender_validation_days') | int,
        'interaction_half_life_days': var('interaction_half_life_days') | int,
        'interaction_half_lives': interaction_half_lives(),
    } -%}
    {%- if execute -%}
        {%- for name in ['int_user_item_interactions_before_holdout', 'int_holdout_purchases'] -%}
            {%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ name) -%}
            {%- do settings.update({name: local_md5(node.raw_code if node else '')}) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set weights -%}
        (select {{ dbt.listagg("signal || '=' || cast(weight as " ~ dbt.type_string() ~ ")", "';'", "order by signal") }}
         from {{ ref('event_weights') }})
    {%- endset -%}
    {{ dbt.hash(sql_literal(tojson(settings, sort_keys=true)) ~ " || coalesce(" ~ weights ~ ", '')") }}
{%- endmacro %}


{#- The keep rule (SQL boolean): keep the previous snapshot iff ml_retrain_after_days > 0, it was
    built with the same settings digest and its as_of is at most that many days before the
    current as_of, 0 <= as_of - previous_as_of < N days (data time; an earlier as_of, a backtest,
    rebuilds). The same rule as model_store.reusable_fit for the stored fits. retrain_after_days:
    the var's value (an argument so that tests/data/assert_evaluation_snapshot_keep_rule.sql can
    check the rule on fixed cases in every build). -#}
{% macro evaluation_snapshot_keep_rule(previous_as_of, previous_digest, as_of, digest, retrain_after_days) -%}
    {%- set days = retrain_after_days | int -%}
    {%- if days <= 0 -%}
        false
    {%- else -%}
        coalesce({{ previous_digest }} = {{ digest }}
            and {{ previous_as_of }} <= {{ as_of }}
            and {{ as_of }} < {{ dbt.dateadd('day', days, previous_as_of) }}, false)
    {%- endif -%}
{%- endmacro %}


{#- A column of the recommender's decided snapshot (as_of, settings_digest, test_cutoff_at,
    validation_cutoff_at) as a scalar SQL expression. -#}
{% macro evaluation_snapshot(column) -%}
    (select {{ column }} from {{ ref('int_evaluation_snapshots') }} where evaluation = 'recommender')
{%- endmacro %}


{#- In an input model of the snapshot: whether its stored rows are exactly the decided snapshot
    (same as_of and settings_digest) and the decider kept it, i.e. nothing is to be rebuilt. False
    on a first build, a full refresh, or when the stored table predates the snapshot columns. -#}
{% macro evaluation_snapshot_is_stored() -%}
    {%- if not execute or this is none or not is_incremental() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {%- if 'as_of' not in columns or 'settings_digest' not in columns -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set query -%}
        -- one pass over two constant columns (the table holds one snapshot whole): cheap at 30M+ rows
        with stored as (
            select count(*) as n_rows, count(as_of) as n_as_of, count(settings_digest) as n_digest,
                   min(as_of) as min_as_of, max(as_of) as max_as_of,
                   min(settings_digest) as min_digest, max(settings_digest) as max_digest
            from {{ this }}
        )
        select count(*) from {{ ref('int_evaluation_snapshots') }} as snapshot
        cross join stored
        where snapshot.evaluation = 'recommender' and snapshot.is_kept
          and stored.n_rows > 0 and stored.n_as_of = stored.n_rows and stored.n_digest = stored.n_rows
          and stored.min_as_of = snapshot.as_of and stored.max_as_of = snapshot.as_of
          and stored.min_digest = snapshot.settings_digest and stored.max_digest = snapshot.settings_digest
    {%- endset -%}
    {{ return(run_query(query).columns[0].values()[0] > 0) }}
{%- endmacro %}


{#- Pre-hook of the input models: an incremental run that does not keep the stored snapshot
    replaces all of it (delete every row; the model then inserts the new snapshot's rows). The
    decision is taken on the stored table before anything changes, as the model's SQL did. -#}
{% macro evaluation_snapshot_replace() -%}
    {%- if execute and this is not none and is_incremental() and not evaluation_snapshot_is_stored() -%}
        delete from {{ this }}
    {%- endif -%}
{%- endmacro %}


{#- The body of an input model (call block around its SQL): nothing to insert when the stored rows
    are the decided snapshot's (evaluation_snapshot_is_stored), else the caller's rows (all of
    them; evaluation_snapshot_replace has emptied the table). -#}
{% macro evaluation_snapshot_rows() -%}
    {%- if evaluation_snapshot_is_stored() %}
-- the stored rows are the decided snapshot's: insert nothing
select * from {{ this }}  -- noqa: AM04
where 1 = 0
    {%- else %}
{{ caller() }}
    {%- endif %}
{%- endmacro %}
