"""Text in the churn model on the simulated build: the planted beyond-rating effect is in the text
features, and ml_churn_model_evaluation measures what they add (the ablation row).

Planted (simulator/reviews.py, simulator/tickets.py): a delivery or customer-service complaint in
a review, and a complaint ticket left unresolved for 14 days, make the customer quit, beyond
what the star rating says. The text features must carry it (checked on the test snapshot's
labels, at the same lowest star rating); whether the model's log-loss gain is significant at
this scale is a reported number (README), not a bar: the quitting customers are a small share
of a snapshot and also stop ordering, which recency already sees.
"""

from __future__ import annotations

import polars as pl
import pytest

SUFFIX = "_without_text_features"


def _table(warehouse, query: str) -> pl.DataFrame:
    cursor = warehouse.execute(query)
    return pl.DataFrame(cursor.fetchall(), schema=[d[0] for d in cursor.description], orient="row")


@pytest.fixture()
def test_rows(warehouse) -> pl.DataFrame:
    return _table(warehouse, "select * from ml.ml_churn_model_evaluation where split = 'test'")


def test_the_ablation_row_compares_the_same_model_on_the_same_test_snapshot(test_rows):
    ablation = test_rows.filter(pl.col("model").str.ends_with(SUFFIX))
    assert ablation.height == 1
    row = ablation.row(0, named=True)
    with_text = test_rows.filter(pl.col("model") == row["baseline_model"]).row(0, named=True)
    assert row["model"] == with_text["model"] + SUFFIX
    assert row["evaluation_snapshot_date"] == with_text["evaluation_snapshot_date"]
    assert row["n_evaluation"] == with_text["n_evaluation"] and row["n_train"] == with_text["n_train"]
    assert row["log_loss_diff_vs_baseline"] == pytest.approx(row["log_loss"] - with_text["log_loss"])
    assert row["log_loss_diff_ci_lower"] <= row["log_loss_diff_vs_baseline"] <= row["log_loss_diff_ci_upper"]
    print(f"text ablation on the test snapshot ({row['n_evaluation']} rows): {with_text['model']} log loss "
          f"{with_text['log_loss']:.5f} with text vs {row['log_loss']:.5f} without (difference "
          f"{row['log_loss_diff_vs_baseline']:+.5f} [{row['log_loss_diff_ci_lower']:+.5f}, "
          f"{row['log_loss_diff_ci_upper']:+.5f}]); ROC-AUC {with_text['roc_auc']:.4f} vs {row['roc_auc']:.4f}")


def test_text_features_carry_the_planted_beyond_rating_effect(warehouse):
    rows = _table(warehouse, """
        select s.is_churned, s.review_rating_min, f.*
        from intermediate.int_churn_snapshots as s
        join ml.ml_churn_text_features as f using (customer_id, snapshot_date)
        where s.snapshot_date = (select max(snapshot_date) from intermediate.int_churn_snapshots where not is_scoring_snapshot)
    """)
    assert rows.height > 0
    # at the same lowest rating, a delivery / service complaint churns more than a product one only
    low = rows.filter(pl.col("review_rating_min") <= 3)
    service = (pl.col("negative_mentions_delivery") + pl.col("negative_mentions_customer_service")) > 0
    beyond = low.filter(service)["is_churned"].mean()
    product_only = low.filter(~service & (pl.col("negative_mentions_product_quality") > 0))["is_churned"].mean()
    # among customers who contacted support: an unresolved complaint churns more than the others
    contacted = rows.filter(pl.col("tickets_last_90d") > 0)
    unresolved = contacted.filter(pl.col("unresolved_complaints_last_90d") > 0)["is_churned"].mean()
    no_ticket = contacted.filter(pl.col("unresolved_complaints_last_90d") == 0)["is_churned"].mean()
    print(f"test snapshot churn rate, lowest rating <= 3: delivery/service complaint {beyond:.3f} vs product "
          f"complaint only {product_only:.3f}; with a ticket: unresolved complaint {unresolved:.3f} vs none {no_ticket:.3f}")
    assert beyond > product_only
    assert unresolved > no_ticket
