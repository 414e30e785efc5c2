"""The ticket intent classifier, fitted ONCE per build on the keyword-rule weak labels of the
tickets before the holdout cutoff plus the FAQ questions, stored as a row (pickled pipeline,
checksum, versions, training cutoff, fit_id, fitted_at, settings_digest); ml_ticket_intents
scores with it. With var ml_retrain_after_days > 0 a stored fit younger than that, made with the
same settings, keyword rules and FAQ, is kept (no refit)."""

from ecom_growth.model_store import kept_fit, library_versions, settings_digest
from ecom_growth.text import fit_ticket_intents, text_model_table
from ecom_growth.text.intents import FALLBACK_NAME, MODEL_NAME


def model(dbt, session):
    dbt.config(materialized="table")
    as_of = dbt.ref("int_as_of").pl().item(0, "as_of")
    faq, rules = dbt.ref("faq").pl(), dbt.ref("ticket_intent_keywords").pl()
    # dbt only passes config keys read literally with dbt.config.get
    settings = {
        "holdout_days": int(dbt.config.get("text_holdout_days")),
        "ngram_max": int(dbt.config.get("text_ngram_max")),
        "max_features": int(dbt.config.get("text_max_features")),
        "regularization_c": float(dbt.config.get("text_regularization_c")),
        "min_training_tickets": int(dbt.config.get("ticket_min_training_tickets")),
        "max_training_tickets": int(dbt.config.get("ticket_max_training_tickets")),
        "random_state": int(dbt.config.get("text_random_state")),
    }
    # the seeds are training data too: an edited rule or FAQ entry refits
    digest = settings_digest({**settings, "library_versions": library_versions(),
                              "faq": faq.write_csv(), "ticket_intent_keywords": rules.write_csv()})
    kept = kept_fit(session, dbt.this, as_of=as_of, retrain_after_days=int(dbt.config.get("ml_retrain_after_days")),
                    settings=digest)
    if kept is not None:
        return kept
    fit = fit_ticket_intents(dbt.ref("int_support_tickets_in_window").pl(), faq, rules, as_of=as_of, **settings)
    return text_model_table(fit, model=MODEL_NAME if fit.pipeline is not None else FALLBACK_NAME, fitted_at=as_of,
                            settings=digest)
