"""The churn tables on the simulated test build: honest splits, selection by a proper scoring
rule, and the selected model measured against the strongest baseline on the later test snapshot.

Bars are stated against simple baselines with the paired bootstrap interval of
ml_churn_model_evaluation, not against a fixed AUC. On the causal simulator the purchase process
*is* BG/NBD, so the BG/NBD baseline is close to the best possible use of purchase history; the
extra planted signal (review satisfaction and channel shift dropout) is small. Measured at 50k
(seed 7): test log loss HGB 0.5276 vs BG/NBD 0.5269, difference +0.0007 [-0.0022, 0.0040], so a
feature model ties BG/NBD rather than beating it. The tests therefore require: it beats the
recency and base-rate baselines (by ~0.03 log loss at 50k, several times the interval width),
and the selected model is not
significantly worse than the strongest baseline. ROC-AUC / PR-AUC stay reported numbers.
"""

from datetime import timedelta

import polars as pl
import pytest


def _table(warehouse, query: str) -> pl.DataFrame:
    cursor = warehouse.execute(query)
    return pl.DataFrame(cursor.fetchall(), schema=[d[0] for d in cursor.description], orient="row")


@pytest.fixture()
def evaluation(warehouse) -> pl.DataFrame:
    return _table(warehouse, "select * from ml.ml_churn_model_evaluation")


@pytest.fixture()
def models(warehouse) -> pl.DataFrame:
    return _table(warehouse, "select * exclude (estimator) from ml.ml_churn_model")


def test_the_build_is_not_degraded(evaluation, models):
    assert (models["status"] == "ok").all(), models.filter(pl.col("status") != "ok")
    assert (evaluation["status"] == "ok").all()


def test_validation_and_test_label_windows_do_not_overlap(models, warehouse):
    window = timedelta(days=int(_table(warehouse, """
        select date_diff('day', snapshot_at, label_window_end_at) as days
        from intermediate.int_churn_snapshot_dates where not is_scoring_snapshot limit 1""")["days"][0]))
    targets = {r["role"]: r["target_snapshot_date"] for r in models.filter(pl.col("is_selected")).iter_rows(named=True)}
    assert targets["validation"] + window <= targets["test"] < targets["final"]
    for row in models.filter(pl.col("last_train_snapshot_date").is_not_null()).iter_rows(named=True):
        assert row["last_train_snapshot_date"] + window <= row["target_snapshot_date"], row["model"]
        assert max(pl.Series(row["train_snapshot_dates"].split(",")).str.to_date()) == row["last_train_snapshot_date"]


def test_selection_is_the_lowest_validation_log_loss_and_includes_the_bgnbd_baseline(evaluation):
    validation = evaluation.filter(pl.col("split") == "validation")
    assert {"base_rate", "recency_baseline", "bgnbd_baseline", "logistic_regression",
            "hist_gradient_boosting"} == set(validation["model"])
    assert validation.sort("log_loss").row(0, named=True)["is_selected"]


def test_a_feature_model_beats_the_recency_and_base_rate_baselines_on_the_test_snapshot(evaluation):
    test = evaluation.filter(pl.col("split") == "test")
    features = test.filter(~pl.col("is_baseline")).sort("log_loss").row(0, named=True)
    for baseline in ("recency_baseline", "base_rate"):
        other = test.filter(pl.col("model") == baseline).row(0, named=True)
        assert features["log_loss"] < other["log_loss"] and features["brier_score"] < other["brier_score"]
        assert features["roc_auc"] > other["roc_auc"]
    # paired interval vs the strongest baseline: never significantly worse than it
    assert features["log_loss_diff_ci_lower"] <= 0, features


def test_the_selected_model_is_not_worse_than_the_strongest_baseline_on_test(evaluation):
    chosen = evaluation.filter((pl.col("split") == "test") & pl.col("is_selected")).row(0, named=True)
    assert chosen["log_loss_diff_ci_lower"] <= 0, chosen
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


def test_calibration_table_covers_every_evaluated_model(warehouse, evaluation):
    calibration = _table(warehouse, "select model, split, sum(n) as n from ml.ml_churn_calibration group by all")
    joined = evaluation.join(calibration, on=["model", "split"], how="left")
    assert (joined["n"] == joined["n_evaluation"]).all()
