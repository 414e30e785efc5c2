"""The churn tables against the issue's bars, on the simulated test build."""

import polars as pl


def test_churn_model_meets_the_bars(warehouse):
    cursor = warehouse.execute("select * from ml.ml_churn_model_evaluation")
    columns = [d[0] for d in cursor.description]
    rows = pl.DataFrame(cursor.fetchall(), schema=columns, orient="row")
    chosen = rows.filter(pl.col("is_selected")).row(0, named=True)
    baseline = rows.filter(pl.col("model") == "recency_baseline").row(0, named=True)
    assert chosen["roc_auc"] >= 0.75
    assert chosen["roc_auc"] > baseline["roc_auc"]
    assert chosen["brier_score"] < chosen["brier_score_base_rate"]


def test_every_scoring_customer_is_scored_once(warehouse):
    population, scored = warehouse.execute(
        """
        select
            (select count(*) from intermediate.int_churn_snapshots where is_scoring_snapshot),
            (select count(distinct customer_id) from ml.ml_churn_scores)
        """
    ).fetchone()
    assert population == scored > 0
