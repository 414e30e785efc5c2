-- The keep rule of the recommender's evaluation snapshot (macro evaluation_snapshot_keep_rule) on
-- fixed cases: previous snapshot (as_of, digest) vs this build's (2024-03-01, d1), retrain window
-- 7 days or 0. (A dbt unit test of int_evaluation_snapshots would need its table to exist, which
-- a first build cannot give.) Returns the cases the rule gets wrong.
with cases as (
    select * from (values
        ('younger, same settings', timestamp '2024-02-25 00:00:00', 'd1', 7, true),
        ('same day', timestamp '2024-03-01 00:00:00', 'd1', 7, true),
        ('just inside the window', timestamp '2024-02-23 00:00:01', 'd1', 7, true),
        ('exactly 7 days old', timestamp '2024-02-23 00:00:00', 'd1', 7, false),
        ('settings changed', timestamp '2024-02-25 00:00:00', 'd0', 7, false),
        ('backtest: previous is later', timestamp '2024-03-05 00:00:00', 'd1', 7, false),
        ('no previous snapshot', cast(null as timestamp), cast(null as varchar), 7, false),
        ('without the var', timestamp '2024-03-01 00:00:00', 'd1', 0, false)
    ) as fixed_cases (case_name, previous_as_of, previous_digest, retrain_after_days, expected)  -- noqa: AL05
),

judged as (
    {%- for days in [0, 7] %}
    select
        case_name,
        expected,
        {{ evaluation_snapshot_keep_rule('previous_as_of', 'previous_digest', "timestamp '2024-03-01 00:00:00'",
                                         "'d1'", days) }} as kept
    from cases
    where retrain_after_days = {{ days }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select * from judged
where kept is distinct from expected
