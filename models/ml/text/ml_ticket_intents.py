"""Intent, confidence, suggested FAQ answer and route of every support ticket up to as_of, from
the stored classifier of ml_ticket_intent_model (no refit; ecom_growth.text.intents documents
the method); is_holdout marks the tickets created on or after its training cutoff."""

from ecom_growth.model_store import with_fit_of
from ecom_growth.text import score_ticket_intents, text_fit_from_table


def model(dbt, session):
    dbt.config(materialized="table")
    stored = dbt.ref("ml_ticket_intent_model").pl()
    scored = score_ticket_intents(
        dbt.ref("int_support_tickets_in_window").pl(),
        dbt.ref("faq").pl(),
        dbt.ref("ticket_intent_keywords").pl(),
        text_fit_from_table(stored),
        as_of=dbt.ref("int_as_of").pl().item(0, "as_of"),
        auto_answer_confidence=float(dbt.config.get("ticket_auto_answer_confidence")),
    )
    return with_fit_of(scored, stored)
