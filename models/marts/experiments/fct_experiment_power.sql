-- Power planning: one row per experiment, metric, non-control variant and target relative
-- minimum detectable effect (var experiment_target_relative_mdes). At the observed sample the
-- minimum detectable effect (two-sided level alpha, power var experiment_power) is
-- (z_(1-alpha/2) + z_power) x standard error, raw and with CUPED; the users per arm needed for a
-- target relative MDE m are (z_(1-alpha/2) + z_power)^2 x (v_t + v_c) / (m x control)^2, where the
-- per-user variance sum v_t + v_c is the observed squared standard error times the harmonic
-- mean of the two arms' users (exact for equal per-user variances).
{%- set alpha = 1 - (var('experiment_confidence_level') | float) %}
{%- set power = var('experiment_power') | float %}
{%- if not (0 < power < 1) %}
    {{ exceptions.raise_compiler_error("var experiment_power must be strictly between 0 and 1, got: " ~ power) }}
{%- endif %}

with results as (
    select
        *,
        2.0 / (1.0 / users + 1.0 / control_users)                               as harmonic_users,
        metric_value_cuped - absolute_lift                                      as control_value
    from {{ ref('fct_experiment_metric_results') }}
    where not is_control
),

settings as (
    select {{ normal_quantile(1 - alpha / 2) }} + {{ normal_quantile(power) }}  as z_sum
),

targets as (
    {%- for mde in var('experiment_target_relative_mdes') %}
    select cast({{ mde }} as double) as target_relative_mde
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select
    cast(results.experiment_id as varchar)                                      as experiment_id,
    cast(results.metric_name as varchar)                                        as metric_name,
    cast(results.variant as varchar)                                            as variant,
    cast(results.users as bigint)                                               as users,
    cast(results.control_users as bigint)                                       as control_users,
    cast(results.control_value as double)                                       as control_value,
    cast({{ power }} as double)                                                 as power,
    cast({{ alpha }} as double)                                                 as alpha,
    cast(settings.z_sum * results.standard_error_raw as double)                 as mde_absolute_raw,
    cast(settings.z_sum * results.standard_error as double)                     as mde_absolute_cuped,
    cast(settings.z_sum * results.standard_error_raw / nullif(abs(results.control_value), 0) as double)
                                                                                as mde_relative_raw,
    cast(settings.z_sum * results.standard_error / nullif(abs(results.control_value), 0) as double)
                                                                                as mde_relative_cuped,
    cast(targets.target_relative_mde as double)                                 as target_relative_mde,
    cast(ceil(power(settings.z_sum, 2) * power(results.standard_error_raw, 2) * results.harmonic_users
        / nullif(power(targets.target_relative_mde * results.control_value, 2), 0)) as bigint)
                                                                                as users_per_arm_needed_raw,
    cast(ceil(power(settings.z_sum, 2) * power(results.standard_error, 2) * results.harmonic_users
        / nullif(power(targets.target_relative_mde * results.control_value, 2), 0)) as bigint)
                                                                                as users_per_arm_needed_cuped
from results
cross join settings
cross join targets
