-- Quarantined raw price_history rows: raw values as text, with the reason and a detail naming the value.
{{ rejected_rows(ref('base_shop__price_history'), 'price_history') }}
