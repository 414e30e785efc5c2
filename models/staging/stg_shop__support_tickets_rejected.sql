-- Quarantined raw support_tickets rows: raw values as text, with the reason and a detail naming the value.
{{ rejected_rows(ref('base_shop__support_tickets'), 'support_tickets') }}
