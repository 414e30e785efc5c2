{#- The raw tables of the contract (models/staging/_shop__sources.yml), in contract order: the one
    list that raw row counts, reconciliation and the quarantine summary iterate over, so a new
    raw table is added here once. -#}
{% macro shop_raw_tables() -%}
    {{ return([
        'customers', 'products', 'orders', 'order_items', 'events', 'reviews', 'marketing_spend',
        'experiment_assignments', 'campaign_sends', 'support_tickets', 'price_history', 'product_costs',
    ]) }}
{%- endmacro %}
