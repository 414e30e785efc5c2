-- One row per experiment and variant: users with a full conversion window, converters,
-- revenue, and which variant is the control. The control is the variant named 'control'
-- (variants are lower-cased in staging); an experiment without one uses its alphabetically
-- first variant, so every experiment with users has exactly one control.
with users as (
    select * from {{ ref('int_experiment_users') }}
),

variants as (
    select
        experiment_id,
        variant,
        count(*)                                                as users,
        count(*) filter (where is_converter)                    as converters,
        sum(revenue)                                            as revenue
    from users
    group by experiment_id, variant
),

control_variants as (
    select
        experiment_id,
        coalesce(max(case when variant = 'control' then variant end), min(variant)) as control_variant
    from variants
    group by experiment_id
)

select
    variants.experiment_id,
    variants.variant,
    variants.variant = control_variants.control_variant                 as is_control,
    cast(variants.users as bigint)                                      as users,
    cast(variants.converters as bigint)                                 as converters,
    cast(variants.revenue as decimal(18, 2))                            as revenue
from variants
inner join control_variants on variants.experiment_id = control_variants.experiment_id
