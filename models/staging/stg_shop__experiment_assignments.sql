-- One row per valid (experiment, customer) assignment.
-- Rows failing a check are in stg_shop__experiment_assignments_rejected.
select
    experiment_id,
    customer_id,
    variant,
    assigned_at
from {{ ref('base_shop__experiment_assignments') }}
where rejected_reason is null
