"""Each stored churn candidate on the validation snapshot (selection by log loss) and on the
later test snapshot (the report), with bootstrap intervals and the difference to the strongest
baseline. Reads ml_churn_model; fits nothing."""

from ecom_growth.churn import evaluate_models


def model(dbt, session):
    dbt.config(materialized="table")
    return evaluate_models(
        dbt.ref("ml_churn_model").pl(),
        dbt.ref("int_churn_snapshots").pl(),
        n_bootstrap=int(dbt.config.get("churn_bootstrap_samples")),
        random_state=int(dbt.config.get("churn_random_state")),
        n_threads=int(dbt.config.get("churn_threads")),
    )
