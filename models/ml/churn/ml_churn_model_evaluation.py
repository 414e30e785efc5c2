"""Each stored churn candidate on the validation snapshot (selection by log loss) and on the
later test snapshot (the report), with bootstrap intervals and the difference to the strongest
baseline. Reads ml_churn_model; fits nothing."""

from ecom_growth.churn import evaluate_models
from ecom_growth.text.churn_features import with_text_features


def model(dbt, session):
    dbt.config(materialized="table")
    return evaluate_models(
        dbt.ref("ml_churn_model").pl(),
        with_text_features(dbt.ref("int_churn_snapshots").pl(), dbt.ref("ml_churn_text_features").pl()),
        n_bootstrap=int(dbt.config.get("churn_bootstrap_samples")),
        random_state=int(dbt.config.get("churn_random_state")),
        n_threads=int(dbt.config.get("churn_threads")),
    )
