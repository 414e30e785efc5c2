"""Every churn model fitted ONCE per build and stored as rows (pickled estimator, checksum,
training window, versions, fit_id, fitted_at, settings_digest); evaluation, calibration and
scores read this table. With var ml_retrain_after_days > 0 a stored fit younger than that, made
with the same settings and feature list, is kept (no refit)."""

from ecom_growth.churn import fit_churn_models
from ecom_growth.churn.features import FEATURE_NAMES
from ecom_growth.churn.store import churn_fit_id
from ecom_growth.model_store import kept_fit, settings_digest, with_fit_metadata, with_settings_digest
from ecom_growth.text.churn_features import with_text_features


def model(dbt, session):
    dbt.config(materialized="table")
    as_of = dbt.ref("int_as_of").pl().get_column("as_of")[0]
    # dbt only passes config keys read literally with dbt.config.get
    settings = {
        "window_days": int(dbt.config.get("churn_window_days")),
        "random_state": int(dbt.config.get("churn_random_state")),
        "calibration_folds": int(dbt.config.get("churn_calibration_folds")),
        "max_training_rows": int(dbt.config.get("churn_max_training_rows")),
        "min_training_rows": int(dbt.config.get("churn_min_training_rows")),
        "min_class_rows": int(dbt.config.get("churn_min_class_rows")),
    }
    digest = settings_digest({**settings, "feature_names": list(FEATURE_NAMES)})
    kept = kept_fit(session, dbt.this, as_of=as_of, retrain_after_days=int(dbt.config.get("ml_retrain_after_days")),
                    settings=digest)
    if kept is not None:
        return kept
    table = fit_churn_models(
        with_text_features(dbt.ref("int_churn_snapshots").pl(), dbt.ref("ml_churn_text_features").pl()),
        dbt.ref("int_churn_bgnbd_summary").pl(),
        **settings,
        n_threads=int(dbt.config.get("churn_threads")),
    )
    return with_settings_digest(with_fit_metadata(table, fit_id=churn_fit_id(table), fitted_at=as_of), digest)
