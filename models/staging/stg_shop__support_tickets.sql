-- One row per valid support ticket. Rows failing a check are in stg_shop__support_tickets_rejected.
-- status and resolved_at are as known at the export; is_resolved_at(t) = resolved_at < t.
select
    ticket_id,
    customer_id,
    created_at,
    channel,
    subject,
    body,
    status,
    resolved_at
from {{ ref('base_shop__support_tickets') }}
where rejected_reason is null
