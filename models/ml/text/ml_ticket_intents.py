"""Intent, confidence, suggested FAQ answer and route of every support ticket up to as_of, from
the stored classifier of ml_ticket_intent_model (no refit; ecom_growth.text.intents documents
the method); is_holdout marks the tickets created on or after its training cutoff. With var
ml_retrain_after_days > 0 only the tickets new or changed since this table's last build are
scored (same fit, settings and seeds; the rest is kept: identical to a full rescore, see
ecom_growth.text.store.rescore_changed)."""

from ecom_growth.model_store import previous_relation
from ecom_growth.text import rescore_ticket_intents


def model(dbt, session):
    dbt.config(materialized="table")
    daily = int(dbt.config.get("ml_retrain_after_days")) > 0
    return rescore_ticket_intents(
        dbt.ref("int_support_tickets_in_window").pl(),
        dbt.ref("faq").pl(),
        dbt.ref("ticket_intent_keywords").pl(),
        dbt.ref("ml_ticket_intent_model").pl(),
        previous_relation(session, dbt.this) if daily else None,
        as_of=dbt.ref("int_as_of").pl().item(0, "as_of"),
        auto_answer_confidence=float(dbt.config.get("ticket_auto_answer_confidence")),
    )
