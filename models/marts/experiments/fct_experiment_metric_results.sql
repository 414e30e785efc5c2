-- Multi-metric read-out: one row per experiment, metric (seeds/experiment_metrics.csv) and
-- variant. Each non-control variant against the control, raw and CUPED-adjusted:
--   * estimate per arm: mean numerator / mean denominator; variance by the delta method
--     (int_experiment_metric_moments), which is the plain sample variance for per-user metrics;
--     arms are independent, so the difference has the unpooled (Welch) variance; critical values
--     are normal (large samples);
--   * CUPED: covariate = the same metric in the pre-period; theta = pooled cov / var over arms
--     (per experiment and metric), adjusted arm estimate = estimate - theta (covariate - its
--     pooled mean); expected CI-width ratio sqrt(1 - rho^2), rho the pooled correlation;
--   * relative lift CI: delta method on adjusted_t / adjusted_c - 1;
--   * multiple testing: Holm across every (metric, non-control variant) of an experiment
--     (family-wise error <= alpha); is_significant uses the Holm p-value;
--   * guardrails: is_guardrail_violation when the metric moves in its bad direction with an
--     UNcorrected CUPED p-value < alpha (missing a harm costs more than a false alarm).
{%- set confidence_level = var('experiment_confidence_level') | float %}
{%- set alpha = 1 - confidence_level %}

with moments as (
    select * from {{ ref('int_experiment_metric_moments') }}
),

metrics as (
    select * from {{ ref('experiment_metrics') }}
),

variants as (
    select experiment_id, variant, is_control from {{ ref('int_experiment_variants') }}
),

srm as (
    select experiment_id, variant, has_sample_ratio_mismatch from {{ ref('fct_experiment_results') }}
),

pooled as (
    select
        experiment_id,
        metric_name,
        sum(users * cov_estimate_covariate) / nullif(sum(users * var_covariate), 0) as theta,
        sum(users * mean_numerator_pre) / nullif(sum(users * mean_denominator_pre), 0) as covariate_pooled,
        sum(users * cov_estimate_covariate)
            / nullif(sqrt(sum(users * var_estimate) * sum(users * var_covariate)), 0) as covariate_correlation
    from moments
    group by experiment_id, metric_name
),

adjusted as (
    select
        moments.experiment_id,
        moments.metric_name,
        moments.variant,
        variants.is_control,
        moments.users,
        moments.estimate,
        moments.covariate_estimate,
        moments.var_estimate / moments.users                                      as variance_raw,
        coalesce(pooled.theta, 0)                                                 as theta,
        pooled.covariate_correlation,
        moments.estimate - coalesce(pooled.theta * (moments.covariate_estimate - pooled.covariate_pooled), 0)
                                                                                  as estimate_adjusted,
        greatest(moments.var_estimate
            - 2 * coalesce(pooled.theta, 0) * coalesce(moments.cov_estimate_covariate, 0)
            + power(coalesce(pooled.theta, 0), 2) * coalesce(moments.var_covariate, 0), 0) / moments.users
                                                                                  as variance_adjusted
    from moments
    inner join variants
        on moments.experiment_id = variants.experiment_id
        and moments.variant = variants.variant
    inner join pooled
        on moments.experiment_id = pooled.experiment_id
        and moments.metric_name = pooled.metric_name
),

compared as (
    select
        treated.*,
        controls.users                                                            as control_users,
        controls.estimate                                                         as control_estimate,
        controls.estimate_adjusted                                                as control_estimate_adjusted,
        case when not treated.is_control then treated.estimate - controls.estimate end as absolute_lift_raw,
        sqrt(treated.variance_raw + controls.variance_raw)                        as standard_error_raw,
        case when not treated.is_control
            then treated.estimate_adjusted - controls.estimate_adjusted end       as absolute_lift,
        sqrt(treated.variance_adjusted + controls.variance_adjusted)              as standard_error,
        sqrt(treated.variance_adjusted / nullif(power(controls.estimate_adjusted, 2), 0)
            + power(treated.estimate_adjusted, 2) * controls.variance_adjusted
            / nullif(power(controls.estimate_adjusted, 4), 0))                    as standard_error_relative
    from adjusted as treated
    inner join adjusted as controls
        on treated.experiment_id = controls.experiment_id
        and treated.metric_name = controls.metric_name
        and controls.is_control
),

tested as (
    select
        compared.*,
        {{ normal_quantile(1 - alpha / 2) }}                                      as z_critical,
        {{ two_sided_normal_p_value('compared.absolute_lift_raw / nullif(compared.standard_error_raw, 0)') }}
                                                                                  as p_value_raw,
        {{ two_sided_normal_p_value('compared.absolute_lift / nullif(compared.standard_error, 0)') }}
                                                                                  as p_value
    from compared
),

holm_ranked as (
    -- Holm step 1: (m - rank + 1) x p within the experiment's family of comparisons.
    select
        tested.*,
        least(1.0, (count(tested.p_value) over (partition by tested.experiment_id)
            - row_number()
                over (partition by tested.experiment_id order by tested.p_value, tested.metric_name, tested.variant)
            + 1) * tested.p_value)                                                as holm_step
    from tested
    where tested.p_value is not null
),

holm as (
    -- Holm step 2: running maximum in p-value order (monotone adjusted p-values).
    select
        experiment_id,
        metric_name,
        variant,
        max(holm_step) over (
            partition by experiment_id order by p_value, metric_name, variant
            rows between unbounded preceding and current row
        )                                                                         as p_value_holm
    from holm_ranked
)

select
    cast(tested.experiment_id as varchar)                                     as experiment_id,
    cast(tested.metric_name as varchar)                                       as metric_name,
    cast(tested.variant as varchar)                                           as variant,
    cast(tested.is_control as boolean)                                        as is_control,
    cast(metrics.direction as varchar)                                        as direction,
    cast(metrics.is_guardrail as boolean)                                     as is_guardrail,
    cast(tested.users as bigint)                                              as users,
    cast(tested.control_users as bigint)                                      as control_users,
    cast(tested.estimate as double)                                           as metric_value,
    cast(tested.estimate_adjusted as double)                                  as metric_value_cuped,
    cast(tested.covariate_estimate as double)                                 as pre_period_value,
    cast(tested.absolute_lift_raw as double)                                  as absolute_lift_raw,
    cast(tested.absolute_lift_raw - tested.z_critical * tested.standard_error_raw as double)
        as absolute_lift_raw_ci_low,
    cast(tested.absolute_lift_raw + tested.z_critical * tested.standard_error_raw as double)
        as absolute_lift_raw_ci_high,
    cast(tested.absolute_lift_raw / nullif(tested.control_estimate, 0) as double) as relative_lift_raw,
    cast(tested.p_value_raw as double)                                        as p_value_raw,
    cast(tested.absolute_lift as double)                                      as absolute_lift,
    cast(tested.absolute_lift - tested.z_critical * tested.standard_error as double) as absolute_lift_ci_low,
    cast(tested.absolute_lift + tested.z_critical * tested.standard_error as double) as absolute_lift_ci_high,
    cast(tested.absolute_lift / nullif(tested.control_estimate_adjusted, 0) as double) as relative_lift,
    cast(case when not tested.is_control then tested.absolute_lift / nullif(tested.control_estimate_adjusted, 0)
        - tested.z_critical * tested.standard_error_relative end as double)  as relative_lift_ci_low,
    cast(case when not tested.is_control then tested.absolute_lift / nullif(tested.control_estimate_adjusted, 0)
        + tested.z_critical * tested.standard_error_relative end as double)  as relative_lift_ci_high,
    cast(tested.standard_error as double)                                     as standard_error,
    cast(tested.standard_error_raw as double)                                 as standard_error_raw,
    cast(tested.p_value as double)                                            as p_value,
    cast(holm.p_value_holm as double)                                         as p_value_holm,
    cast(case when not tested.is_control then coalesce(holm.p_value_holm < {{ alpha }}, false) end as boolean)
                                                                              as is_significant,
    cast(case when not tested.is_control then metrics.is_guardrail
        and coalesce(tested.p_value < {{ alpha }}, false)
        and ((metrics.direction = 'increase' and tested.absolute_lift < 0)
            or (metrics.direction = 'decrease' and tested.absolute_lift > 0))
    end as boolean)                                                           as is_guardrail_violation,
    cast(tested.theta as double)                                              as cuped_theta,
    cast(tested.covariate_correlation as double)                              as covariate_correlation,
    cast(case when not tested.is_control
        then tested.standard_error / nullif(tested.standard_error_raw, 0) end as double) as ci_width_ratio,
    cast(case when not tested.is_control
        then 1 - power(tested.standard_error / nullif(tested.standard_error_raw, 0), 2) end as double)
                                                                              as variance_reduction,
    cast(case when not tested.is_control
        then sqrt(1 - power(coalesce(tested.covariate_correlation, 0), 2)) end as double)
                                                                              as expected_ci_width_ratio,
    cast({{ confidence_level }} as double)                                    as confidence_level,
    cast(coalesce(srm.has_sample_ratio_mismatch, false) as boolean)          as has_sample_ratio_mismatch
from tested
inner join metrics on tested.metric_name = metrics.metric_name
left join holm
    on tested.experiment_id = holm.experiment_id
    and tested.metric_name = holm.metric_name
    and tested.variant = holm.variant
left join srm
    on tested.experiment_id = srm.experiment_id
    and tested.variant = srm.variant
