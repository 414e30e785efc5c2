"""The recommender tables against the issue's bars and the simulator's planted taste."""

from __future__ import annotations

import json
import os
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from ecom_growth.recommend import relevant_items
from ecom_growth.recommend.metrics import per_user_metrics


def _metric(warehouse, model: str, metric: str, k: int, split: str = "test", population: str = "warm") -> tuple:
    return warehouse.execute(
        "select value, ci_lower, ci_upper from ml.ml_recommender_evaluation"
        " where split = ? and population = ? and model = ? and metric = ? and k = ? and is_selected",
        [split, population, model, metric, k],
    ).fetchone()


def test_als_beats_most_popular_by_half_on_the_test_split(warehouse):
    als, popular = _metric(warehouse, "als", "ndcg", 10)[0], _metric(warehouse, "most_popular", "ndcg", 10)[0]
    assert als >= 1.5 * popular, f"ALS NDCG@10 {als:.4f} vs most popular {popular:.4f} ({als / popular:.2f}x)"


def test_every_family_was_chosen_on_validation_and_reported_on_test(warehouse):
    rows = warehouse.execute(
        "select split, model, count(distinct hyperparameters) from ml.ml_recommender_evaluation"
        " where population = 'warm' and is_selected group by all"
    ).fetchall()
    chosen = {(split, model): n for split, model, n in rows}
    for family in ("als", "most_popular", "recent_popular", "item_knn"):
        assert chosen.get(("validation", family)) == 1 and chosen.get(("test", family)) == 1, chosen
    # the test split holds only the chosen configurations: nothing was picked on it
    assert warehouse.execute(
        "select count(*) from ml.ml_recommender_evaluation where split = 'test' and not is_selected"
        " and model <> 'als_minus_best_baseline'"
    ).fetchone()[0] == 0


def test_the_difference_row_is_als_minus_the_best_validation_baseline(warehouse):
    best = warehouse.execute(
        "select model from ml.ml_recommender_evaluation where split = 'validation' and population = 'warm'"
        " and is_selected and model in ('most_popular', 'recent_popular', 'item_knn') and k = 10 and metric = 'ndcg'"
        " order by value desc limit 1"
    ).fetchone()[0]
    value, lower, upper = _metric_difference(warehouse)
    assert json.loads(_difference_params(warehouse))["baseline"] == best
    als, base = _metric(warehouse, "als", "ndcg", 10)[0], _metric(warehouse, best, "ndcg", 10)[0]
    assert value == pytest.approx(als - base, abs=1e-12)
    assert lower <= value <= upper


def _metric_difference(warehouse) -> tuple:
    return warehouse.execute(
        "select value, ci_lower, ci_upper from ml.ml_recommender_evaluation where split = 'test'"
        " and model = 'als_minus_best_baseline' and metric = 'ndcg' and k = 10"
    ).fetchone()


def _difference_params(warehouse) -> str:
    return warehouse.execute(
        "select hyperparameters from ml.ml_recommender_evaluation where split = 'test'"
        " and model = 'als_minus_best_baseline' and metric = 'ndcg' and k = 10"
    ).fetchone()[0]


def test_channel_popularity_is_no_worse_than_global_popularity_for_cold_start(warehouse):
    # the simulator's channel taste offsets are small (sd 0.3): measured at 50k, channel
    # popularity NDCG@10 0.093 vs global 0.089 on test, inside each other's intervals
    channel = _metric(warehouse, "channel_popular", "ndcg", 10, population="cold_start")
    glob = _metric(warehouse, "most_popular", "ndcg", 10, population="cold_start")
    assert channel[0] >= glob[1], (channel, glob)


def test_every_customer_gets_exactly_n_recommendations(warehouse):
    n_customers = warehouse.execute("select count(*) from marts.dim_customers").fetchone()[0]
    per_customer = warehouse.execute(
        "select count(*) as n, count(distinct customer_id) as customers, min(rows), max(rows) from ("
        " select customer_id, count(*) as rows from ml.ml_recommendations group by customer_id)"
    ).fetchone()
    assert per_customer[1] == n_customers
    assert per_customer[2] == per_customer[3] == 10


def test_no_already_purchased_product_is_recommended(warehouse):
    leaked = warehouse.execute(
        """
        select count(*) from ml.ml_recommendations as r
        inner join marts.fct_user_item_interactions as i
            on r.customer_id = i.customer_id and r.product_id = i.product_id
        where i.purchase_count > 0
        """
    ).fetchone()[0]
    assert leaked == 0


def test_interaction_strength_is_bit_identical_when_recomputed_in_another_order(warehouse):
    """Rebuild int_user_item_interactions from its compiled SQL with its inputs read in another
    order (sorted by a hash of their keys), 2 threads and no insertion order, and compare
    exactly. With a plain float sum this differs in the last bits for ~3% of the pairs
    (measured at 50k customers); the decimal sum makes it order-independent."""
    import re
    from pathlib import Path

    target = Path(os.environ.get("DBT_TARGET_PATH", "target"))
    sql = (target / "compiled/ecom_growth/models/intermediate/int_user_item_interactions.sql").read_text()
    keys = {"stg_shop__events": "event_id", "stg_shop__order_items": "order_id, product_id", "int_orders": "order_id"}
    for table, key in keys.items():
        for ref in set(re.findall(rf'"\w+"\."\w+"\."{table}"', sql)):
            sql = sql.replace(ref, f"(select * from {ref} order by hash({key}))")
    warehouse.execute("set threads = 2")
    warehouse.execute("set preserve_insertion_order = false")
    differing = warehouse.execute(
        f"""
        with rebuilt as ({sql})
        select count(*) from rebuilt
        full join intermediate.int_user_item_interactions as stored using (customer_id, product_id)
        where rebuilt.strength is distinct from stored.strength
        """
    ).fetchone()[0]
    assert differing == 0


# --- the planted taste as ceiling -------------------------------------------------------------


def _planted_taste(raw_path, truth: dict, customer_ids: pl.Series) -> dict:
    """What the simulator's item choice reads, from the planted truth it writes
    (``_truth_customers`` / ``_truth_products`` / ``_truth_prices`` and ``_truth.json``):
    U, nu for ``customer_ids`` (in that order); V, log popularity within the category, the
    category mix and log prices per product (product rows in catalogue order, P000123 = row 123)."""
    customers = pl.DataFrame({"customer_id": customer_ids}).join(
        pl.read_parquet(raw_path / "_truth_customers.parquet", columns=["customer_id", "nu", "taste_factors"]),
        on="customer_id", how="left", maintain_order="left",
    )
    assert customers["nu"].null_count() == 0
    products = pl.read_parquet(raw_path / "_truth_products.parquet")
    assert products["product_id"].to_list() == [f"P{i:06d}" for i in range(products.height)]
    centroids = truth["choice_model"]["category_centroids"]
    names = list(centroids)
    category = products["category"].replace_strict({c: k for k, c in enumerate(names)}).to_numpy()
    popularity = products["popularity"].to_numpy()
    u = customers["taste_factors"].to_numpy().astype(np.float64)
    logits = truth["taste"]["category_temperature"] * u @ np.array([centroids[c] for c in names]).T
    logits -= logits.max(axis=1, keepdims=True)
    log_mix = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    # list prices in the middle of the test window (prices change ~1.25 times a year)
    at = (date.fromisoformat(truth["window"]["end"]) - timedelta(days=15)).isoformat()
    now = (pl.read_parquet(raw_path / "_truth_prices.parquet").filter(pl.col("valid_from") <= pl.lit(at).str.to_datetime())
           .sort("valid_from").group_by("product_id").last())
    now = products.select("product_id").join(now, on="product_id", how="left", maintain_order="left")
    log_reference = np.log(products["reference_price"].to_numpy())
    return {
        "u": u, "nu": customers["nu"].to_numpy(), "v": products["taste_factors"].to_numpy().astype(np.float64),
        "log_q": log_mix[:, category] + np.log(popularity / np.bincount(category, weights=popularity)[category]),
        "log_reference": log_reference, "log_price_ratio": np.log(now["list_price"].to_numpy()) - log_reference,
    }


def _oracle_choice_probability(planted: dict, truth: dict, samples: int, seed: int, batch: int = 32) -> np.ndarray:
    """log P(an order line of the customer's next order picks product i), up to a per-customer
    constant, from the simulator's choice model (taste.choose_items, baskets.draw_baskets):

    a line draws C candidates i.i.d. from q_u(i) = mix_u(category_i) x popularity within it and
    takes the Gumbel-max of s_ui = taste_scale U.V + beta_price log(price ratio) - b |log(ref /
    budget)| among the affordable ones (ref <= cap), so exactly
        P(i) = C q_u(i) E[ w_i / (w_i + S) ],  w = exp(s) 1[affordable],  S = sum of w over C - 1
    other i.i.d. candidates, the expectation over S and over the order's budget. Both are
    estimated from ``samples`` draws per customer (order total ~ Gamma(p, nu), coupon, wanted
    lines -> budget = target / wanted, cap = (1 + max_overshoot) x target; competitors from q_u);
    the formula is exact in i given a draw. Approximated: the budget and cap of the first line
    stand for every line's (later lines see the remaining target), the fallback to the cheapest
    candidate when none is affordable is ignored, and the favourite re-buy (prob rebuy_probability,
    of first-order products, which are already bought and filtered) scales every other product
    by the same factor, so it does not change the ranking of unbought products."""
    taste, basket, gg = truth["taste"], truth["basket"], truth["gamma_gamma"]
    beta = truth["price_elasticity"]["beta_price"]
    u, nu, v, log_q = planted["u"], planted["nu"], planted["v"], planted["log_q"]
    log_ref = planted["log_reference"]
    n_users, n_items = log_q.shape
    n_other = taste["candidates"] - 1
    rng = np.random.default_rng(seed)
    out = np.empty((n_users, n_items))
    for lo in range(0, n_users, batch):
        hi = min(n_users, lo + batch)
        m = hi - lo
        base = taste["taste_scale"] * u[lo:hi] @ v.T + beta * planted["log_price_ratio"][None, :]
        total = rng.gamma(gg["p"], 1.0, (m, samples)) / nu[lo:hi, None]
        coupon = np.where(rng.random((m, samples)) < basket["coupon_share"],
                          rng.uniform(basket["coupon_min"], basket["coupon_max"], (m, samples)), 0.0)
        target = total / (1.0 - coupon)
        wanted = 1 + np.minimum(rng.poisson(basket["extra_lines_mean"], (m, samples)), basket["max_lines"] - 1)
        budget_log = np.log(np.maximum(target / wanted, 0.01))
        cap_log = np.log(target * (1.0 + basket["max_overshoot"]))
        score = base[:, None, :] - taste["budget_coefficient"] * np.abs(log_ref[None, None, :] - budget_log[..., None])
        score = np.where(log_ref[None, None, :] <= cap_log[..., None], score, -np.inf)
        top = score.max(axis=2, keepdims=True)
        w = np.exp(score - np.where(np.isfinite(top), top, 0.0))  # (m, samples, items), scaled per draw
        # competitors: inverse CDF of q_u, one flat search over the batch's rows offset by row number
        cumulative = np.cumsum(np.exp(log_q[lo:hi]), axis=1)
        cumulative /= cumulative[:, -1:]
        row = np.arange(m)[:, None, None]
        pick = np.searchsorted((cumulative + np.arange(m)[:, None]).ravel(),
                               row + rng.random((m, samples, n_other))) - row * n_items
        s = np.take_along_axis(w, np.minimum(pick, n_items - 1), axis=2).sum(axis=2, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            win = np.nan_to_num(w / (w + s))
            out[lo:hi] = log_q[lo:hi] + np.log(win.mean(axis=1))
    return out


def _ranking_ndcg(scores: np.ndarray, users: pl.DataFrame, train: pl.DataFrame, relevant: pl.DataFrame) -> float:
    """Mean NDCG@10 of the top 10 by ``scores`` (rows = ``users``), already-bought products
    filtered as in production."""
    scores = scores.copy()
    bought = train.filter(pl.col("purchase_count") > 0).join(users.with_row_index("u"), on="customer_id")
    item = bought.get_column("product_id").str.slice(1).cast(pl.Int64).to_numpy()
    scores[bought.get_column("u").to_numpy(), item] = -np.inf
    top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    recs = pl.DataFrame({
        "customer_id": np.repeat(users.get_column("customer_id").to_numpy(), 10),
        "product_id": np.array([f"P{i:06d}" for i in range(scores.shape[1])])[top.ravel()],
        "rank": np.tile(np.arange(1, 11), users.height),
    })
    return float(per_user_metrics(recs, relevant, ks=(10,)).get_column("ndcg_10").mean())


def test_als_gets_close_to_the_planted_choice_probability_ranking(warehouse, raw_path, truth):
    train = warehouse.sql(
        "select customer_id, product_id, strength, purchase_count from intermediate.int_user_item_interactions_before_holdout"
        " where split = 'test'"
    ).pl()
    labels = warehouse.sql(
        "select customer_id, product_id from intermediate.int_holdout_purchases where split = 'test'"
    ).pl()
    relevant = relevant_items(train, labels, filter_purchased=True)
    users = relevant.select("customer_id").unique().sort("customer_id")
    planted = _planted_taste(raw_path, truth, users.get_column("customer_id"))
    oracle = _ranking_ndcg(_oracle_choice_probability(planted, truth, samples=32, seed=0), users, train, relevant)
    models = {m: _metric(warehouse, m, "ndcg", 10) for m in ("als", "item_knn", "recent_popular", "most_popular")}
    print(f"\nNDCG@10 on test ({users.height} customers): planted choice-probability ranking {oracle:.4f}; "
          + ", ".join(f"{m} {x:.4f} ({x / oracle:.1%}, 95% CI {lo / oracle:.1%}-{hi / oracle:.1%})"
                      for m, (x, lo, hi) in models.items()))
    # Measured (50k customers, seed 7; 1597 customers): oracle 0.233 (+-0.001 over sampling
    # seeds), ALS 0.144 = 62% of it (CI 58-67%), item kNN 57%, most popular 24%. Ablations: the
    # category mix x popularity alone gives 0.140, q x exp(taste) without the candidate
    # competition 0.136 (why the earlier, competition-free oracle scored below ALS), an unknown
    # budget costs 0.005. ALS learns U from a handful of purchases; the oracle knows it.
    # A ceiling: no model may beat the planted choice probability (a wrong oracle would fail here).
    assert all(x <= oracle for x, _, _ in models.values()), models
    # The planted taste is real signal that popularity cannot see.
    assert oracle >= 2.0 * models["most_popular"][0]
    # ALS recovers at least half of the planted ceiling (issue 9 names no bar; 80% fails).
    assert models["als"][0] >= 0.5 * oracle


def test_als_beats_the_best_baseline_on_test_with_an_interval_above_zero(warehouse):
    # measured on the 50k seed-7 build: +0.0088 NDCG@10 over item kNN, 95% CI [0.0035, 0.0145]
    value, lower, upper = _metric_difference(warehouse)
    assert lower > 0, f"ALS - best baseline NDCG@10 = {value:.4f}, 95% CI [{lower:.4f}, {upper:.4f}]"
