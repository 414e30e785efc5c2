"""Intent, confidence, suggested FAQ answer and route of every support ticket up to as_of; the
intent classifier is fitted ONCE here, on keyword-rule weak labels of the tickets before the
holdout cutoff plus the FAQ questions (ecom_growth.text.intents documents why)."""

from ecom_growth.text import ticket_intents_table


def model(dbt, session):
    dbt.config(materialized="table")
    return ticket_intents_table(
        dbt.ref("int_support_tickets_in_window").pl(),
        dbt.ref("faq").pl(),
        dbt.ref("ticket_intent_keywords").pl(),
        as_of=dbt.ref("int_as_of").pl().item(0, "as_of"),
        holdout_days=int(dbt.config.get("text_holdout_days")),
        ngram_max=int(dbt.config.get("text_ngram_max")),
        max_features=int(dbt.config.get("text_max_features")),
        regularization_c=float(dbt.config.get("text_regularization_c")),
        min_training_tickets=int(dbt.config.get("ticket_min_training_tickets")),
        max_training_tickets=int(dbt.config.get("ticket_max_training_tickets")),
        auto_answer_confidence=float(dbt.config.get("ticket_auto_answer_confidence")),
        random_state=int(dbt.config.get("text_random_state")),
    )
