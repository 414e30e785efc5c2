-- Reference intents for evaluating ml_ticket_intents: the simulator's planted intent per ticket
-- when raw_path holds _truth_tickets.parquet (simulated shops; a shop may put agent-tagged
-- labels there with the same two columns), else empty. Used by ml_text_model_evaluation only:
-- nothing is trained on it.
{%- set reader = raw_table_reader('_truth_tickets') if execute else none %}
{%- if reader is not none %}
select
    cast(ticket_id as varchar) as ticket_id,
    cast(intent as varchar) as intent
from {{ reader }}
{%- else %}
select
    cast(null as varchar) as ticket_id,
    cast(null as varchar) as intent
where false
{%- endif %}
