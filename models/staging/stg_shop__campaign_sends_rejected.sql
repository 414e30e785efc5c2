-- Quarantined raw campaign_sends rows: raw values as text, with the reason and a detail naming the value.
{{ rejected_rows(ref('base_shop__campaign_sends'), 'campaign_sends') }}
