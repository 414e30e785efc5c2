"""Every churn model fitted ONCE per build and stored as rows (pickled estimator, checksum,
training window, versions); evaluation, calibration and scores read this table."""

from ecom_growth.churn import fit_churn_models
from ecom_growth.text.churn_features import with_text_features


def model(dbt, session):
    dbt.config(materialized="table")
    return fit_churn_models(
        with_text_features(dbt.ref("int_churn_snapshots").pl(), dbt.ref("ml_churn_text_features").pl()),
        dbt.ref("int_churn_bgnbd_summary").pl(),
        window_days=int(dbt.config.get("churn_window_days")),
        random_state=int(dbt.config.get("churn_random_state")),
        calibration_folds=int(dbt.config.get("churn_calibration_folds")),
        max_training_rows=int(dbt.config.get("churn_max_training_rows")),
        min_training_rows=int(dbt.config.get("churn_min_training_rows")),
        min_class_rows=int(dbt.config.get("churn_min_class_rows")),
        n_threads=int(dbt.config.get("churn_threads")),
    )
