-- One row per experiment, metric (seeds/experiment_metrics.csv) and variant: the arm's estimate
-- (mean numerator / mean denominator), its pre-period covariate and the delta-method moments
-- (macros/stats/experiment_stats.sql) that CUPED, the tests and the power table need.
with metric_users as (
    {{ experiment_metric_users(ref('int_experiment_user_measures'), ['experiment_id', 'variant']) }}
)

select
    experiment_id,
    metric_name,
    variant,
    {{ experiment_arm_moments() }}
from metric_users
group by experiment_id, metric_name, variant
