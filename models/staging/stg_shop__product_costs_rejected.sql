-- Quarantined raw product_costs rows: raw values as text, with the reason and a detail naming the value.
{{ rejected_rows(ref('base_shop__product_costs'), 'product_costs') }}
