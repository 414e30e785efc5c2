-- A/B test read-out per experiment and variant: users with a full conversion window, converters,
-- conversion rate, revenue per user, and each non-control variant against the control:
-- absolute and relative lift with confidence intervals, a two-sided z-test, and a
-- sample-ratio-mismatch (SRM) check of the user counts against an equal split.
--   * absolute lift CI: unpooled normal approximation (Wald) of the difference of proportions;
--   * relative lift CI: log risk ratio (Katz): ln(p_t / p_c) +- z * sqrt((1-p_t)/x_t + (1-p_c)/x_c),
--     exponentiated minus 1, so it is asymmetric and never below -100% (null with 0 converters);
--   * z_score / p_value: pooled-variance two-proportion z-test, two-sided;
--   * is_significant: p_value < 1 - var experiment_confidence_level. (The p-value uses the pooled
--     variance, the CI the unpooled one; they can disagree right at the boundary.)
-- Each variant is compared with the control alone; with more than two variants there is no
-- multiple-comparison correction.
{%- set confidence_level = var('experiment_confidence_level') | float %}
{%- if not (0 < confidence_level < 1) %}
    {{ exceptions.raise_compiler_error("var experiment_confidence_level must be strictly between 0 and 1, got: " ~ confidence_level) }}
{%- endif %}
{%- set srm_threshold = var('srm_p_value_threshold') | float %}

with variants as (
    select
        experiment_id,
        variant,
        is_control,
        users,
        converters,
        revenue,
        converters * 1.0 / users                                        as conversion_rate
    from {{ ref('int_experiment_variants') }}
),

quantile_estimate as (
    -- Critical value z_(1 - alpha/2): Acklam's approximation (relative error < 1.2e-9) ...
    select
        {{ 1 - (1 - confidence_level) / 2 }}                             as probability,
        {{ normal_quantile(1 - (1 - confidence_level) / 2) }}            as z_initial
),

settings as (
    -- ... plus one Halley step on the double-precision normal CDF, which brings it to full
    -- double precision (z(0.975) = 1.959963984540054), so the CIs match scipy.
    select
        {{ confidence_level }}                                           as confidence_level,
        z_initial - halley_step / (1 + z_initial * halley_step / 2)      as z_critical
    from (
        select
            z_initial,
            ({{ normal_cdf('z_initial') }} - probability) * 2.5066282746310002 * exp(z_initial * z_initial / 2)
                                                                         as halley_step
        from quantile_estimate
    ) as estimate
),

experiments as (
    select
        experiment_id,
        count(*)                                                        as variant_count,
        sum(users)                                                      as experiment_users
    from variants
    group by experiment_id
),

srm_terms as (
    -- Expected split: equal shares across the variants the experiment has.
    select
        variants.experiment_id,
        variants.variant,
        1.0 / experiments.variant_count                                  as srm_expected_share,
        power(variants.users - experiments.experiment_users * 1.0 / experiments.variant_count, 2)
            / (experiments.experiment_users * 1.0 / experiments.variant_count) as chi_square_term
    from variants
    inner join experiments on variants.experiment_id = experiments.experiment_id
),

srm_statistics as (
    select
        srm_terms.experiment_id,
        sum(srm_terms.chi_square_term)                                  as srm_chi_square,
        max(experiments.variant_count) - 1                              as srm_degrees_of_freedom
    from srm_terms
    inner join experiments on srm_terms.experiment_id = experiments.experiment_id
    group by srm_terms.experiment_id
),

srm as (
    select
        experiment_id,
        srm_chi_square,
        -- One variant: nothing to compare, no test.
        case when srm_degrees_of_freedom >= 1
            then {{ chi_square_p_value('srm_chi_square', 'srm_degrees_of_freedom') }}
        end                                                              as srm_p_value
    from srm_statistics
),

controls as (
    select
        experiment_id,
        users                                                           as control_users,
        converters                                                      as control_converters,
        conversion_rate                                                 as control_rate
    from variants
    where is_control
),

compared as (
    select
        variants.*,
        controls.control_users,
        controls.control_converters,
        controls.control_rate,
        case when not variants.is_control
            then variants.conversion_rate - controls.control_rate end   as absolute_lift,
        sqrt(variants.conversion_rate * (1 - variants.conversion_rate) / variants.users
            + controls.control_rate * (1 - controls.control_rate) / controls.control_users)
                                                                        as standard_error_unpooled,
        (variants.converters + controls.control_converters) * 1.0
            / (variants.users + controls.control_users)                 as pooled_rate,
        case when variants.converters > 0 and controls.control_converters > 0 then
            sqrt((1 - variants.conversion_rate) / variants.converters
                + (1 - controls.control_rate) / controls.control_converters)
        end                                                              as standard_error_log_ratio
    from variants
    inner join controls on variants.experiment_id = controls.experiment_id
),

tested as (
    select
        compared.*,
        settings.confidence_level,
        settings.z_critical,
        compared.absolute_lift / nullif(sqrt(compared.pooled_rate * (1 - compared.pooled_rate)
            * (1.0 / compared.users + 1.0 / compared.control_users)), 0)  as z_score
    from compared
    cross join settings
),

with_p_values as (
    select
        tested.*,
        {{ two_sided_normal_p_value('tested.z_score') }}                 as p_value
    from tested
)

select
    cast(tested.experiment_id as varchar)                                as experiment_id,
    cast(tested.variant as varchar)                                      as variant,
    cast(tested.is_control as boolean)                                   as is_control,
    cast(tested.users as bigint)                                         as users,
    cast(tested.converters as bigint)                                    as converters,
    cast(tested.conversion_rate as double)                               as conversion_rate,
    cast(tested.revenue as decimal(18, 2))                               as revenue,
    cast(tested.revenue / tested.users as decimal(18, 2))                as revenue_per_user,
    cast(tested.absolute_lift as double)                                 as absolute_lift,
    cast(tested.absolute_lift - tested.z_critical * tested.standard_error_unpooled as double) as absolute_lift_ci_low,
    cast(tested.absolute_lift + tested.z_critical * tested.standard_error_unpooled as double) as absolute_lift_ci_high,
    cast(tested.absolute_lift / nullif(tested.control_rate, 0) as double) as relative_lift,
    cast(case when not tested.is_control and tested.standard_error_log_ratio is not null then
        exp(ln(tested.conversion_rate / tested.control_rate) - tested.z_critical * tested.standard_error_log_ratio) - 1
    end as double)                                                       as relative_lift_ci_low,
    cast(case when not tested.is_control and tested.standard_error_log_ratio is not null then
        exp(ln(tested.conversion_rate / tested.control_rate) + tested.z_critical * tested.standard_error_log_ratio) - 1
    end as double)                                                       as relative_lift_ci_high,
    cast(tested.z_score as double)                                       as z_score,
    cast(tested.p_value as double)                                       as p_value,
    -- Undefined test (both arms at 0% or 100%): not significant. Control: not applicable.
    cast(case when not tested.is_control then coalesce(tested.p_value < 1 - tested.confidence_level, false)
    end as boolean)                                                      as is_significant,
    cast(tested.confidence_level as double)                              as confidence_level,
    cast(srm_terms.srm_expected_share as double)                         as srm_expected_share,
    cast(srm.srm_chi_square as double)                                   as srm_chi_square,
    cast(srm.srm_p_value as double)                                      as srm_p_value,
    cast(coalesce(srm.srm_p_value < {{ srm_threshold }}, false) as boolean) as has_sample_ratio_mismatch
from with_p_values as tested
inner join srm_terms
    on tested.experiment_id = srm_terms.experiment_id
    and tested.variant = srm_terms.variant
inner join srm on tested.experiment_id = srm.experiment_id
