{#- Known-value checks for the SQL statistics macros, run by `dbt build` on the current adapter.
    Attached to fct_experiment_results (the model that relies on them); the model itself is not
    read. Reference values from scipy.stats (norm.cdf, norm.ppf, chi2.sf). Returns one row per
    macro call whose result is off by more than its tolerance (or null). -#}
{% test stats_macros_match_reference(model) %}
with normal_cdf_cases (x, expected, tolerance) as (
    values
        (-8.0, 6.22096057427174e-16, 1e-15),
        (-3.5, 0.00023262907903552502, 1e-13),
        (-1.96, 0.024997895148220435, 1e-12),
        (-1.0, 0.15865525393145707, 1e-12),
        (0.0, 0.5, 1e-12),
        (0.5, 0.6914624612740131, 1e-12),
        (1.0, 0.8413447460685429, 1e-12),
        (1.96, 0.9750021048517795, 1e-12),
        (3.0, 0.9986501019683699, 1e-12),
        (5.0, 0.9999997133484281, 1e-12),
        (8.5, 1.0, 1e-12),
        (40.0, 1.0, 1e-15)
),

normal_quantile_cases (p, expected, tolerance) as (
    values
        (0.000001, -4.753424308822899, 1e-8),
        (0.01, -2.3263478740408408, 1e-8),
        (0.025, -1.9599639845400545, 1e-8),
        (0.05, -1.6448536269514729, 1e-8),
        (0.5, 0.0, 1e-12),
        (0.9, 1.2815515655446004, 1e-8),
        (0.95, 1.6448536269514722, 1e-8),
        (0.975, 1.959963984540054, 1e-8),
        (0.995, 2.5758293035489004, 1e-8),
        (0.999999, 4.753424308817087, 1e-8)
),

chi_square_cases (statistic, df, expected, tolerance) as (
    values
        (0.0, 1, 1.0, 1e-12),
        (0.5, 1, 0.47950012218695337, 1e-11),
        (3.841458820694124, 1, 0.05, 1e-11),
        (10.8275661706627, 1, 0.001, 1e-11),
        (2.0, 2, 0.36787944117144245, 1e-11),
        (5.991464547107979, 2, 0.05, 1e-11),
        (7.0, 3, 0.07189777249646509, 1e-11),
        (12.0, 4, 0.01735126523666451, 1e-11),
        (20.5, 5, 0.0010065277863902768, 1e-11),
        (30.0, 10, 0.000856641210775301, 1e-11),
        (0.0001, 3, 0.9999997340464585, 1e-11),
        (2000.0, 1, 0.0, 1e-15),
        (2000.0, 3, 0.0, 1e-15),
        -- beyond the exact range: Wilson-Hilferty
        (45.0, 31, 0.0498501151481234, 2e-3),
        (50.0, 40, 0.1335748340856504, 2e-3)
),

results as (
    select 'normal_cdf' as macro_name, cast(x as double) as argument, cast(null as integer) as df,
           {{ normal_cdf('cast(x as double)') }} as actual, expected, tolerance
    from normal_cdf_cases
    union all
    select 'normal_quantile', cast(p as double), cast(null as integer),
           {{ normal_quantile('cast(p as double)') }}, expected, tolerance
    from normal_quantile_cases
    union all
    select 'chi_square_p_value', cast(statistic as double), df,
           {{ chi_square_p_value('cast(statistic as double)', 'df') }}, expected, tolerance
    from chi_square_cases
)

select *, abs(actual - expected) as error
from results
where actual is null or abs(actual - expected) > tolerance
{% endtest %}
