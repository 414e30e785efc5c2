"""Each stored churn candidate on the validation snapshot (selection by log loss) and on the
later test snapshot (the report), with bootstrap intervals and the difference to the strongest
baseline. Reads ml_churn_model; fits nothing. Kept while the stored fit is kept."""

from ecom_growth.churn import evaluate_models, evaluation_snapshot_dates, snapshot_date_predicate
from ecom_growth.model_store import kept_with_fit, with_fit_of
from ecom_growth.text.churn_features import with_text_features


def model(dbt, session):
    dbt.config(materialized="table")
    models = dbt.ref("ml_churn_model").pl()
    kept = kept_with_fit(session, dbt.this, models, retrain_after_days=int(dbt.config.get("ml_retrain_after_days")))
    if kept is not None:
        return kept
    # only the snapshots the stored validation / test models predict are read
    only = snapshot_date_predicate(evaluation_snapshot_dates(models))
    evaluation = evaluate_models(
        models,
        with_text_features(dbt.ref("int_churn_snapshots").filter(only).pl(),
                           dbt.ref("ml_churn_text_features").filter(only).pl()),
        n_bootstrap=int(dbt.config.get("churn_bootstrap_samples")),
        random_state=int(dbt.config.get("churn_random_state")),
        n_threads=int(dbt.config.get("churn_threads")),
    )
    return with_fit_of(evaluation, models)
