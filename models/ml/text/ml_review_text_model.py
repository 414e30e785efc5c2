"""The review sentiment model, fitted ONCE per build on the rated reviews before the holdout
cutoff (star ratings as weak labels) and stored as a row (pickled pipeline, checksum, versions,
training cutoff, fit_id, fitted_at, settings_digest); ml_review_sentiment scores with it. With
var ml_retrain_after_days > 0 a stored fit younger than that, made with the same settings, is
kept (no refit)."""

from ecom_growth.model_store import kept_fit, library_versions, settings_digest
from ecom_growth.text import fit_review_sentiment, text_model_table
from ecom_growth.text.sentiment import FALLBACK_NAME, MODEL_NAME


def model(dbt, session):
    dbt.config(materialized="table")
    as_of = dbt.ref("int_as_of").pl().item(0, "as_of")
    # dbt only passes config keys read literally with dbt.config.get
    settings = {
        "holdout_days": int(dbt.config.get("text_holdout_days")),
        "ngram_max": int(dbt.config.get("text_ngram_max")),
        "max_features": int(dbt.config.get("text_max_features")),
        "regularization_c": float(dbt.config.get("text_regularization_c")),
        "min_training_reviews": int(dbt.config.get("text_min_training_reviews")),
        "max_training_reviews": int(dbt.config.get("text_max_training_reviews")),
        "random_state": int(dbt.config.get("text_random_state")),
    }
    digest = settings_digest({**settings, "library_versions": library_versions()})
    kept = kept_fit(session, dbt.this, as_of=as_of, retrain_after_days=int(dbt.config.get("ml_retrain_after_days")),
                    settings=digest)
    if kept is not None:
        return kept
    fit = fit_review_sentiment(dbt.ref("int_reviews_in_window").pl(), as_of=as_of, **settings)
    return text_model_table(fit, model=MODEL_NAME if fit.pipeline is not None else FALLBACK_NAME, fitted_at=as_of,
                            settings=digest)
