-- Support tickets created up to as_of: the input of ml_ticket_intents and of the churn text
-- features. Later tickets (a backtest) stay in staging and out of every window; a resolution
-- after as_of is not known at as_of, so it reads as unresolved here.
select
    tickets.ticket_id,
    tickets.customer_id,
    tickets.created_at,
    tickets.channel,
    tickets.subject,
    tickets.body,
    case
        when tickets.resolved_at is not null and tickets.resolved_at > as_of.as_of then 'open'
        else tickets.status
    end as status,
    case when tickets.resolved_at <= as_of.as_of then tickets.resolved_at end as resolved_at
from {{ ref('stg_shop__support_tickets') }} as tickets
cross join {{ ref('int_as_of') }} as as_of
where tickets.created_at <= as_of.as_of
