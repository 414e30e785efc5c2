{#- The build log: one row per dbt invocation that changes tables (build, run, seed, snapshot)
    in ops.build_runs. on-run-start inserts it as 'running' (committed before any model runs);
    on-run-end sets 'complete' when no node errored, failed or was skipped, else 'failed'. A
    process killed mid-build never reaches on-run-end, so its row stays 'running': readers
    (python/ecom_growth/build_log.py; summary, export, report) refuse such a warehouse.
    Also the loud demo-salt warning: the build says when pseudonyms use the public salt. -#}

{% macro build_log_writes() -%}
    {{ return(execute and flags.WHICH in ['build', 'run', 'seed', 'snapshot']) }}
{%- endmacro %}

{% macro build_log_start() -%}
    {%- if not build_log_writes() -%}{{ return('') }}{%- endif -%}
    {%- do warn_if_demo_pii_salt() -%}
    {%- set selection = invocation_args_dict.get('select') or [] -%}
    create schema if not exists ops;
    create table if not exists ops.build_runs (
        build_id varchar primary key,
        command varchar,
        selection varchar,
        started_at timestamp,
        finished_at timestamp,
        status varchar,
        failed_nodes integer,
        pii_salt_is_demo boolean
    );
    insert into ops.build_runs values (
        {{ sql_literal(invocation_id) }},
        {{ sql_literal(flags.WHICH) }},
        {{ sql_literal((selection if selection is string else selection | join(' ')) or none) }},
        {{ utc_now() }},
        null,
        'running',
        null,
        {{ pii_salt_is_demo() }}
    )
{%- endmacro %}

{% macro build_log_end(results) -%}
    {%- if not build_log_writes() -%}{{ return('') }}{%- endif -%}
    {%- set failed = [] -%}
    {%- for result in results if result.status in ['error', 'fail', 'skipped', 'runtime error'] -%}
        {%- do failed.append(result.node.unique_id) -%}
    {%- endfor -%}
    update ops.build_runs
    set finished_at = {{ utc_now() }},
        status = {{ sql_literal('failed' if failed else 'complete') }},
        failed_nodes = {{ failed | length }}
    where build_id = {{ sql_literal(invocation_id) }}
{%- endmacro %}

{% macro warn_if_demo_pii_salt() -%}
    {%- set is_demo = run_query("select " ~ pii_salt_is_demo()).columns[0].values()[0] -%}
    {%- if is_demo -%}
        {{ log(demo_pii_salt_warning(), info=true) }}
    {%- endif -%}
{%- endmacro %}

{#- Worded like python/ecom_growth/build_log.py DEMO_SALT_WARNING (summary prints that one). -#}
{% macro demo_pii_salt_warning() -%}
    {{- return(
        "\n" ~ "!" * 78 ~ "\n"
        ~ "WARNING: ECOM_GROWTH_PII_SALT is not set: email pseudonyms use the PUBLIC demo salt.\n"
        ~ "Anyone with a list of emails can recompute them, so email_hash is reversible.\n"
        ~ "Set a secret before building real data: export ECOM_GROWTH_PII_SALT=\"$(openssl rand -hex 32)\"\n"
        ~ "(keep it stable across builds, or customer pseudonyms change; README 'Your own data').\n"
        ~ "!" * 78) -}}
{%- endmacro %}
