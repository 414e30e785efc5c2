-- Sequential (always-valid) inference, one row per experiment, metric, non-control variant and
-- day since the experiment's start (int_experiment_user_day_changes: what was visible at the end of
-- that day). mSPRT with a normal mixture (Johari et al. 2017): with the raw difference D, its
-- (Welch / delta-method) variance V and mixing variance tau^2,
--   Lambda = sqrt(V / (V + tau^2)) exp(tau^2 D^2 / (2 V (V + tau^2))),
-- the always-valid p-value is min(1, 1 / max over days so far of Lambda), so stopping the first
-- day it drops below alpha keeps the false-positive rate <= alpha however often a team peeks.
-- The confidence sequence is {D : Lambda(D) < 1 / alpha}. tau = var
-- experiment_sequential_mixing_sd_relative x |control value on the last day| (fixed per
-- experiment and metric). The classical fixed-horizon p-value of the same day is beside it.
-- The normal approximation needs a sample: before both arms have var
-- experiment_sequential_min_units users with a nonzero denominator (orders, for average order
-- value) a day has no test (null likelihood ratio and sequence; p-value 1 until then).
{%- set alpha = 1 - (var('experiment_confidence_level') | float) %}
{%- set mixing = var('experiment_sequential_mixing_sd_relative') | float %}
{%- set min_units = var('experiment_sequential_min_units') | int %}

with metric_users as (
    {{ experiment_metric_users(ref('int_experiment_user_day_changes'),
        ['experiment_id', 'variant', 'customer_id', 'days_since_start']) }}
),

-- A user's row holds from its day until the user's next row, so each day's sums over users are
-- running sums of the changes: what the user adds to each sum minus what it added before.
-- Decimal differences of decimal terms, so the running sums equal the per-day sums exactly.
user_changes as (
    select
        experiment_id,
        variant,
        metric_name,
        days_since_start,
        case when row_number() over user_days = 1 then 1 else 0 end                 as delta_users,
        case when x <> 0 then 1 else 0 end
            - coalesce(lag(case when x <> 0 then 1 else 0 end) over user_days, 0)   as delta_denominator_users,
        {%- for a, b in [('y', none), ('x', none), ('y', 'y'), ('y', 'x'), ('x', 'x')] %}
        {%- set term = 'cast(' ~ a ~ ' as decimal(38, 6))' ~ (' * cast(' ~ b ~ ' as decimal(38, 6))' if b else '') %}
        {{ term }} - coalesce(lag({{ term }}) over user_days, 0)                    as delta_{{ a }}{{ '_' ~ b if b }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from metric_users
    window user_days as (partition by experiment_id, variant, metric_name, customer_id order by days_since_start)
),

daily_changes as (
    select
        experiment_id,
        variant,
        metric_name,
        days_since_start,
        sum(delta_users)                                                            as delta_users,
        sum(delta_denominator_users)                                                as delta_denominator_users,
        sum(delta_y)                                                                as delta_y,
        sum(delta_x)                                                                as delta_x,
        sum(delta_y_y)                                                              as delta_y_y,
        sum(delta_y_x)                                                              as delta_y_x,
        sum(delta_x_x)                                                              as delta_x_x
    from user_changes
    group by experiment_id, variant, metric_name, days_since_start
),

arm_starts as (
    select experiment_id, variant, metric_name, min(days_since_start) as first_day
    from daily_changes
    group by experiment_id, variant, metric_name
),

-- every day of the experiment's calendar from the arm's first user on, changed or not
arm_days as (
    select
        days.experiment_id,
        arms.variant,
        arms.metric_name,
        days.days_since_start
    from {{ ref('int_experiment_days') }} as days
    inner join arm_starts as arms
        on days.experiment_id = arms.experiment_id
        and days.days_since_start >= arms.first_day
),

running_sums as (
    select
        arm_days.experiment_id,
        arm_days.variant,
        arm_days.metric_name,
        arm_days.days_since_start,
        {%- for column in ['users', 'denominator_users', 'y', 'x', 'y_y', 'y_x', 'x_x'] %}
        {%- set name = column if column in ['users', 'denominator_users'] else 'sum_' ~ column %}
        sum(coalesce(daily_changes.delta_{{ column }}, 0)) over arm_running          as {{ name }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from arm_days
    left join daily_changes
        on arm_days.experiment_id = daily_changes.experiment_id
        and arm_days.variant = daily_changes.variant
        and arm_days.metric_name = daily_changes.metric_name
        and arm_days.days_since_start = daily_changes.days_since_start
    window arm_running as (
        partition by arm_days.experiment_id, arm_days.variant, arm_days.metric_name
        order by arm_days.days_since_start
        rows between unbounded preceding and current row
    )
),

moments as (
    -- the per-arm moments of int_experiment_metric_moments, from the running sums
    select
        experiment_id,
        days_since_start,
        metric_name,
        variant,
        cast(users as bigint)                                                       as users,
        cast(denominator_users as bigint)                                           as denominator_users,
        {{ experiment_ratio('y', 'x', 'cast(users as bigint)', column_total) }}  as estimate,
        {{ experiment_ratio_variance('y', 'x', 'cast(users as bigint)', column_total, column_product_total) }}
                                                                                    as var_estimate
    from running_sums
),

variants as (
    select experiment_id, variant, is_control from {{ ref('int_experiment_variants') }}
),

compared as (
    select
        treated.experiment_id,
        treated.days_since_start,
        treated.metric_name,
        treated.variant,
        treated.users,
        controls.users                                                          as control_users,
        treated.estimate                                                        as metric_value,
        controls.estimate                                                       as control_value,
        treated.estimate - controls.estimate                                    as absolute_lift,
        case when least(treated.denominator_users, controls.denominator_users) >= {{ min_units }}
            then treated.var_estimate / treated.users + controls.var_estimate / controls.users
        end                                                                     as variance
    from moments as treated
    inner join variants as treated_variants
        on treated.experiment_id = treated_variants.experiment_id
        and treated.variant = treated_variants.variant
        and not treated_variants.is_control
    inner join variants as control_variants
        on treated.experiment_id = control_variants.experiment_id
        and control_variants.is_control
    inner join moments as controls
        on treated.experiment_id = controls.experiment_id
        and treated.days_since_start = controls.days_since_start
        and treated.metric_name = controls.metric_name
        and controls.variant = control_variants.variant
),

mixing as (
    select
        experiment_id,
        metric_name,
        variant,
        power({{ mixing }} * max_by(abs(control_value), days_since_start), 2)  as tau_squared
    from compared
    group by experiment_id, metric_name, variant
),

likelihood as (
    select
        compared.*,
        mixing.tau_squared,
        case when compared.variance > 0 and mixing.tau_squared > 0 then
            0.5 * ln(compared.variance / (compared.variance + mixing.tau_squared))
            + mixing.tau_squared * power(compared.absolute_lift, 2)
            / (2 * compared.variance * (compared.variance + mixing.tau_squared))
        end                                                                     as log_likelihood_ratio,
        case when compared.variance > 0 and mixing.tau_squared > 0 then
            sqrt(2 * compared.variance * (compared.variance + mixing.tau_squared) / mixing.tau_squared
                * (ln(1 / {{ alpha }}) + 0.5 * ln((compared.variance + mixing.tau_squared) / compared.variance)))
        end                                                                     as sequence_half_width
    from compared
    inner join mixing
        on compared.experiment_id = mixing.experiment_id
        and compared.metric_name = mixing.metric_name
        and compared.variant = mixing.variant
),

running as (
    select
        likelihood.*,
        max(likelihood.log_likelihood_ratio) over (
            partition by likelihood.experiment_id, likelihood.metric_name, likelihood.variant
            order by likelihood.days_since_start
            rows between unbounded preceding and current row
        )                                                                       as max_log_likelihood_ratio
    from likelihood
)

select
    cast(experiment_id as varchar)                                              as experiment_id,
    cast(metric_name as varchar)                                                as metric_name,
    cast(variant as varchar)                                                    as variant,
    cast(days_since_start as integer)                                           as days_since_start,
    cast(users as bigint)                                                       as users,
    cast(control_users as bigint)                                               as control_users,
    cast(metric_value as double)                                                as metric_value,
    cast(control_value as double)                                               as control_value,
    cast(absolute_lift as double)                                               as absolute_lift,
    cast(sqrt(variance) as double)                                              as standard_error,
    cast({{ two_sided_normal_p_value('absolute_lift / nullif(sqrt(variance), 0)') }} as double)
                                                                                as fixed_horizon_p_value,
    cast(log_likelihood_ratio as double)                                        as log_likelihood_ratio,
    cast(least(1.0, exp(-least(coalesce(max_log_likelihood_ratio, 0), 700))) as double) as always_valid_p_value,
    cast(absolute_lift - sequence_half_width as double)                         as confidence_sequence_low,
    cast(absolute_lift + sequence_half_width as double)                         as confidence_sequence_high,
    cast(coalesce(max_log_likelihood_ratio >= ln(1 / {{ alpha }}), false) as boolean) as is_significant,
    cast(sqrt(tau_squared) as double)                                           as mixing_sd
from running
