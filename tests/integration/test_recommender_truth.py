"""The recommender tables against the issue's bars and the simulator's planted taste."""

from __future__ import annotations

import json
import os
from datetime import date

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


def _planted_taste(raw_path, truth: dict):
    """(customer ids, U, nu, catalogue, config) replayed from the simulator with the run's arguments.

    The simulator does not write the taste factors, so they are re-drawn here the way
    ``simulator.core`` draws them (same seed streams, same call order). Replaying is checked
    against ``_truth_customers.parquet`` (lambda and first order time come from the same chunk
    stream just before the factors): if the simulator's draw order changes, this says so.
    """
    from ecom_growth.simulator.catalogue import build_catalogue
    from ecom_growth.simulator.config import build_config
    from ecom_growth.simulator.customers import draw_signups
    from ecom_growth.simulator.experiments import (
        assign_variants,
        conversion_multiplier,
        experiment_window,
    )
    from ecom_growth.simulator.purchases import (
        draw_conversion,
        draw_orders,
        draw_traits,
    )
    from ecom_growth.simulator.taste import customer_factors
    from ecom_growth.simulator.timeline import PurchaseClock, Window

    args = dict(truth["args"])
    args["start"], args["end"] = date.fromisoformat(args["start"]), date.fromisoformat(args["end"])
    config = build_config(**args)
    window = Window(config.start, config.end)
    signup_seed, catalogue_seed, _, _, chunk_root = np.random.SeedSequence(config.seed).spawn(5)
    catalogue_rng = np.random.default_rng(catalogue_seed)
    catalogue = build_catalogue(catalogue_rng, config, window)
    k = config.taste.rank
    country_offsets = config.taste.country_offset_sd * catalogue_rng.standard_normal((len(config.countries), k))
    channel_offsets = config.taste.channel_offset_sd * catalogue_rng.standard_normal((len(config.channels), k))
    signups = draw_signups(np.random.default_rng(signup_seed), config, window)
    experiment = experiment_window(config, window)
    clock = PurchaseClock(window, config.seasonality.purchase_yearly_amplitude,
                          config.seasonality.purchase_peak_day_of_year)
    n_chunks = -(-config.customers // config.chunk_customers)
    factors, lambdas = [], []
    for chunk, chunk_seed in enumerate(chunk_root.spawn(n_chunks)):
        rng = np.random.default_rng(chunk_seed)
        lo, hi = chunk * config.chunk_customers, min(config.customers, (chunk + 1) * config.chunk_customers)
        days, channel, country = signups.days[lo:hi], signups.channel[lo:hi], signups.country[lo:hi]
        variant = assign_variants(rng, config, experiment, days)
        traits = draw_traits(rng, config, channel)
        conversion = draw_conversion(rng, config, window, channel, days, conversion_multiplier(config, variant))
        draw_orders(rng, config, window, clock, conversion, traits)
        factors.append(customer_factors(rng, config, country, channel, country_offsets, channel_offsets))
        lambdas.append(traits.lam)
    written = pl.read_parquet(raw_path / "_truth_customers.parquet", columns=["customer_id", "lambda_per_day", "nu"])
    if not np.array_equal(written.get_column("lambda_per_day").to_numpy(), np.concatenate(lambdas)):
        pytest.fail("replaying the simulator's taste draws is out of sync with _truth_customers.parquet: "
                    "the simulator should write the planted taste factors (see the recommender notes)")
    return written.get_column("customer_id"), np.concatenate(factors), written.get_column("nu").to_numpy(), \
        catalogue, config


def _oracle_scores(users: np.ndarray, factors: np.ndarray, nu: np.ndarray, catalogue, config) -> np.ndarray:
    """log P(product | customer) up to a constant, from the planted choice model (taste.py,
    baskets.py): the candidate draw (category from softmax(temperature U.M_c), product by
    popularity within it), the logit weight taste_scale U.V_i + beta_price log(price ratio)
    at the last price week, the budget penalty -b |log(price_i / budget)| at the customer's
    typical per-line budget (mean order value p / nu over the mean basket size), and the log
    probability that an order total z ~ Gamma(p, nu) affords the product under the price cap.
    Basket-to-basket budget noise and competition inside each candidate set are averaged out,
    so this is a planted-truth ranking, not the exact Bayes ranking."""
    from scipy.stats import gamma

    u = factors[users]
    logits = config.taste.category_temperature * (u @ catalogue.centroids.T)
    top = logits.max(axis=1, keepdims=True)
    log_mix = logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))
    totals = np.bincount(catalogue.category, weights=catalogue.popularity)
    log_within = np.log(catalogue.popularity / totals[catalogue.category])
    log_price = catalogue.log_reference_price[None, :].astype(np.float64)
    budget = config.gamma_gamma.p / nu[users] / (1.0 + config.basket.extra_lines_mean)
    penalty = config.taste.budget_coefficient * np.abs(log_price - np.log(budget)[:, None])
    afford = gamma.logsf(np.exp(log_price) / (1.0 + config.basket.max_overshoot), a=config.gamma_gamma.p,
                         scale=1.0 / nu[users][:, None])
    price_now = config.prices.beta_price * catalogue.log_price_ratio[:, -1][None, :]
    return (log_mix[:, catalogue.category] + log_within[None, :]
            + config.taste.taste_scale * (u @ catalogue.factors.T) + price_now - penalty + afford)


def test_als_gets_close_to_the_planted_taste_ranking(warehouse, raw_path, truth):
    customer_ids, factors, nu, catalogue, config = _planted_taste(raw_path, truth)
    train = warehouse.sql(
        "select customer_id, product_id, strength, purchase_count from intermediate.int_user_item_interactions_before_holdout"
        " where split = 'test'"
    ).pl()
    labels = warehouse.sql(
        "select customer_id, product_id from intermediate.int_holdout_purchases where split = 'test'"
    ).pl()
    relevant = relevant_items(train, labels, filter_purchased=True)
    users = relevant.select("customer_id").unique().sort("customer_id")
    index = pl.DataFrame({"customer_id": customer_ids, "row": np.arange(customer_ids.len())})
    rows = users.join(index, on="customer_id", how="left").get_column("row")
    assert rows.null_count() == 0
    scores = _oracle_scores(rows.to_numpy(), factors, nu, catalogue, config)
    # product P000123 is catalogue row 123; already-bought products are filtered as in production
    product_ids = np.array([f"P{i:06d}" for i in range(catalogue.n)])
    bought = train.filter(pl.col("purchase_count") > 0).join(users.with_row_index("u"), on="customer_id")
    item = bought.get_column("product_id").str.slice(1).cast(pl.Int64).to_numpy()
    scores[bought.get_column("u").to_numpy(), item] = -np.inf
    top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    recs = pl.DataFrame({
        "customer_id": np.repeat(users.get_column("customer_id").to_numpy(), 10),
        "product_id": product_ids[top.ravel()],
        "rank": np.tile(np.arange(1, 11), users.height),
    })
    oracle = float(per_user_metrics(recs, relevant, ks=(10,)).get_column("ndcg_10").mean())
    als = _metric(warehouse, "als", "ndcg", 10)[0]
    popular = _metric(warehouse, "most_popular", "ndcg", 10)[0]
    print(f"\nNDCG@10 on test: planted-taste ranking {oracle:.4f}, ALS {als:.4f} ({als / oracle:.1%} of it), "
          f"most popular {popular:.4f} ({popular / oracle:.1%})")
    # measured (seed 7): ALS 0.94x the planted ranking at 20k customers and 1.16x at 50k -
    # the planted ranking averages out per-basket budgets and candidate competition, so it is
    # not a strict ceiling. A replay gone wrong would put it near popularity; ALS losing the
    # taste signal would put it far below.
    assert oracle >= 1.5 * popular
    assert als >= 0.75 * oracle


def test_als_beats_the_best_baseline_on_test_with_an_interval_above_zero(warehouse):
    # measured on the 50k seed-7 build: +0.0088 NDCG@10 over item kNN, 95% CI [0.0035, 0.0145]
    value, lower, upper = _metric_difference(warehouse)
    assert lower > 0, f"ALS - best baseline NDCG@10 = {value:.4f}, 95% CI [{lower:.4f}, {upper:.4f}]"
