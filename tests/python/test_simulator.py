"""The simulator writes the raw data contract and plants exactly what _truth.json says.

Datasets are generated once per session (a few seconds each) and shared by the tests.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.special import hyp2f1

from ecom_growth.cli import main
from ecom_growth.simulator import (
    DIRTY_CLASSES,
    PRICE_HISTORY_FILE,
    PRODUCT_COSTS_FILE,
    SCHEMAS,
    TABLES,
    TRUTH_CUSTOMERS_FILE,
    TRUTH_FILE,
    TRUTH_PRICES_FILE,
    TRUTH_REVIEWS_FILE,
    TRUTH_TICKETS_FILE,
    UNPARSEABLE_COLUMN,
    build_config,
    generate,
)
from ecom_growth.simulator.core import TRUTH_PRODUCTS_FILE

START, END = datetime(2024, 7, 1), datetime(2026, 7, 1)  # END exclusive: the default end date is 2026-06-30


def _read(path: Path, table: str) -> pl.DataFrame:
    return pl.read_parquet(path / f"{table}.parquet")


def _truth(path: Path) -> dict:
    return json.loads((path / TRUTH_FILE).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def full(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim_full")
    generate(customers=40_000, seed=11, out=out)
    return out


@pytest.fixture(scope="session")
def plain(tmp_path_factory) -> Path:
    """effects='none': every converted customer follows plain BG/NBD + Gamma-Gamma."""
    out = tmp_path_factory.mktemp("sim_none")
    generate(customers=20_000, seed=5, out=out, effects="none")
    return out


@pytest.fixture(scope="session")
def dirty(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim_dirty")
    generate(customers=6_000, seed=3, out=out, dirty_rate=0.03)
    return out


def _hashes(path: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.iterdir())}


# --- determinism and the contract ---------------------------------------------------------

def test_same_arguments_give_byte_identical_files_and_another_seed_does_not(tmp_path):
    args = {"customers": 3_000, "seed": 7, "dirty_rate": 0.02}
    generate(out=tmp_path / "a", **args)
    generate(out=tmp_path / "b", **args)
    generate(out=tmp_path / "c", **{**args, "seed": 8})
    a, b, c = _hashes(tmp_path / "a"), _hashes(tmp_path / "b"), _hashes(tmp_path / "c")
    assert set(a) == {f"{t}.parquet" for t in TABLES} | {TRUTH_FILE, TRUTH_CUSTOMERS_FILE, TRUTH_PRICES_FILE,
                                                            TRUTH_PRODUCTS_FILE, TRUTH_REVIEWS_FILE, TRUTH_TICKETS_FILE,
                                                            PRICE_HISTORY_FILE, PRODUCT_COSTS_FILE}
    assert a == b
    assert a["orders.parquet"] != c["orders.parquet"]


def test_every_contract_table_has_exactly_the_contract_columns_and_types(full):
    for table, schema in SCHEMAS.items():
        file_schema = pq.read_schema(full / f"{table}.parquet")
        assert [(f.name, f.type) for f in file_schema] == [(f.name, f.type) for f in schema], table
        assert _read(full, table).height > 0, table


def test_dirty_files_keep_the_unparseable_column_as_text_and_clean_values_parse(dirty):
    for table, column in UNPARSEABLE_COLUMN.items():
        assert pq.read_schema(dirty / f"{table}.parquet").field(column).type == pa.string(), table
    # Clean text timestamps are ISO 'YYYY-MM-DD HH:MM:SS.ffffff' (DuckDB casts them as is).
    signup = _read(dirty, "customers")["signup_at"].drop_nulls()
    assert signup.str.contains(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?$").sum() >= 6_000


def test_truth_json_is_sorted_and_has_the_documented_layout(full):
    text = (full / TRUTH_FILE).read_text(encoding="utf-8")
    truth = json.loads(text)
    assert text == json.dumps(truth, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert {"r", "alpha", "a", "b", "time_unit"} <= set(truth["bgnbd"]) and truth["bgnbd"]["time_unit"] == "day"
    assert {"p", "q", "gamma", "mean_order_value"} <= set(truth["gamma_gamma"])
    assert set(truth["channels"]) == {"organic", "paid_search", "paid_social", "affiliate", "email", "referral"}
    assert truth["experiments"]["checkout_free_shipping_2025q4"]["relative_lift"] == 0.12
    assert all(e < 0 for e in truth["price_elasticity"]["by_category"].values())
    assert set(truth["raw_rows"]) == set(TABLES) == set(truth["clean_rows"]) == set(truth["dirty"])
    assert truth["window"]["start"] == "2024-07-01" and truth["window"]["end"] == "2026-06-30"
    assert truth["args"]["customers"] == 40_000 and truth["args"]["products"] == 2_000
    for table in TABLES:
        assert truth["raw_rows"][table] == _read(full, table).height


def _planted_choice_inputs(path: Path) -> tuple[pl.DataFrame, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(order lines with customer row and product row, U, V, category code per product, centroids)."""
    customers = pl.read_parquet(path / TRUTH_CUSTOMERS_FILE, columns=["customer_id", "taste_factors"])
    products = pl.read_parquet(path / TRUTH_PRODUCTS_FILE)
    truth = json.loads((path / TRUTH_FILE).read_text())
    names = list(truth["choice_model"]["category_centroids"])
    centroids = np.array([truth["choice_model"]["category_centroids"][c] for c in names], dtype=np.float32)
    lines = (
        _read(path, "order_items").join(_read(path, "orders").select("order_id", "customer_id"), on="order_id")
        .join(customers.select("customer_id").with_row_index("u"), on="customer_id")
        .join(products.select("product_id").with_row_index("i"), on="product_id")
    )
    category = products["category"].replace_strict({c: k for k, c in enumerate(names)}).to_numpy()
    return lines, customers["taste_factors"].to_numpy(), products["taste_factors"].to_numpy(), category, centroids


def test_written_taste_factors_are_the_ones_the_item_choices_used(full):
    lines, u, v, category, centroids = _planted_choice_inputs(full)
    temperature = json.loads((full / TRUTH_FILE).read_text())["taste"]["category_temperature"]
    assert u.shape[1] == v.shape[1] == centroids.shape[1] == 12 and u.dtype == np.float32
    who, item = lines["u"].to_numpy(), lines["i"].to_numpy()
    shuffled = np.random.default_rng(0).permutation(who)  # the same lines, someone else's taste
    taste = np.einsum("nk,nk->n", u[who], v[item])
    other = np.einsum("nk,nk->n", u[shuffled], v[item])
    # chosen items score high under their buyer's U (Gumbel-max of 1.5 U.V among 8 candidates)
    # and near zero under a stranger's; a wrong or misaligned U or V would give ~0 for both
    assert taste.mean() > other.mean() + 2.0, (taste.mean(), other.mean())  # measured 4.04 vs 0.24
    # the categories follow softmax(temperature U.M_c) with the written centroids
    logits = temperature * u @ centroids.T
    log_mix = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True)) \
        - logits.max(1, keepdims=True)
    own, stranger = log_mix[who, category[item]].mean(), log_mix[shuffled, category[item]].mean()
    assert own > stranger + 1.0, (own, stranger)  # measured -0.92 vs -5.64


def test_the_documented_choice_probability_is_what_choose_items_draws():
    """_truth.json's choice model as a formula (what the recommender's planted-truth oracle
    uses): P(line picks i) = C q_u(i) E[w_i / (w_i + S)], S = the weights of C - 1 other
    candidates drawn from q_u, against the frequencies of the simulator's own draws."""
    from ecom_growth.simulator.catalogue import build_catalogue
    from ecom_growth.simulator.taste import category_mix, choose_items

    config = build_config(6_000, 3, date(2024, 7, 1), date(2026, 6, 30), 0.0, "full", None, False)
    catalogue = build_catalogue(np.random.default_rng(1), config, 60)
    u = np.random.default_rng(2).standard_normal((1, config.taste.rank)).astype(np.float32)
    mix = category_mix(config, catalogue, u)
    n, week, budget_log, cap = 200_000, 50, np.log(30.0), 60.0
    chosen, _, _ = choose_items(np.random.default_rng(3), config, catalogue, u, mix, np.zeros(n, np.int64),
                                np.full(n, week), np.full(n, budget_log), np.full(n, cap))
    drawn = np.bincount(chosen, minlength=catalogue.n) / n
    # candidate weight within the category: popularity x price ratio ** elasticity (catalogue.py)
    mass = catalogue.popularity * np.exp(catalogue.elasticity[catalogue.category] * catalogue.log_price_ratio[:, week])
    in_category = mass / np.bincount(catalogue.category, weights=mass)[catalogue.category]
    q = np.diff(mix.cumulative, prepend=0.0)[catalogue.category] * in_category
    taste = config.taste
    score = (taste.taste_scale * catalogue.factors.astype(np.float64) @ u[0]
             + config.prices.beta_price * catalogue.log_price_ratio[:, week]
             - taste.budget_coefficient * np.abs(catalogue.log_reference_price - budget_log))
    w = np.where(catalogue.log_reference_price <= np.log(cap), np.exp(score - score.max()), 0.0)
    others = w[np.random.default_rng(4).choice(catalogue.n, size=(20_000, taste.candidates - 1), p=q)].sum(axis=1)
    formula = taste.candidates * q * (w / (w + others[:, None])).mean(axis=0)
    assert np.abs(drawn - formula).max() < 0.005  # measured 0.002 (sampling noise of both sides)
    assert set(np.argsort(-drawn)[:10]) == set(np.argsort(-formula)[:10])
    # the competition-free logit q x w (the old oracle's form) is visibly different
    naive = q * w / (q * w).sum()
    assert np.abs(drawn - naive).max() > 0.02  # 10x the formula's error (0.037 with the price weights of the pricing plant)


def test_truth_products_are_the_catalogue_at_the_window_start(full):
    products = pl.read_parquet(full / TRUTH_PRODUCTS_FILE)
    assert products["product_id"].to_list() == _read(full, "products")["product_id"].to_list()
    assert products["popularity"].sum() == pytest.approx(1.0) and products["popularity"].min() > 0
    first = pl.read_parquet(full / TRUTH_PRICES_FILE).sort("valid_from").group_by("product_id").first()
    joined = products.join(first, on="product_id")
    assert joined.height == products.height
    assert (joined["reference_price"] == joined["list_price"]).all()
    assert (joined["valid_from"] == START).all()


# --- coherence of the clean data -----------------------------------------------------------

def test_ids_are_unique_and_every_foreign_key_resolves(full):
    customers, products = _read(full, "customers"), _read(full, "products")
    orders, items = _read(full, "orders"), _read(full, "order_items")
    for frame, key in ((customers, ["customer_id"]), (products, ["product_id"]), (orders, ["order_id"]),
                       (items, ["order_id", "product_id"]), (_read(full, "events"), ["event_id"]),
                       (_read(full, "reviews"), ["review_id"]), (_read(full, "marketing_spend"), ["spend_date", "channel"]),
                       (_read(full, "experiment_assignments"), ["experiment_id", "customer_id"]),
                       (_read(full, "campaign_sends"), ["campaign_id", "customer_id"])):
        assert frame.select(key).is_duplicated().sum() == 0, key
        assert frame.null_count().sum_horizontal().item() == 0, key
    assert customers["customer_id"].str.contains(r"^C\d{8}$").all()
    assert products["product_id"].str.contains(r"^P\d{6}$").all()
    assert orders["order_id"].str.contains(r"^O\d{12}$").all()
    # Ids derive from the customer (stable whatever the window end): O/S/R + customer number + rank.
    events, reviews = _read(full, "events"), _read(full, "reviews")
    for frame, column in ((orders, "order_id"), (events, "session_id"), (events, "event_id"), (reviews, "review_id")):
        assert (frame[column].str.slice(1, 8) == frame["customer_id"].str.slice(1, 8)).all(), column
    assert (events["event_id"].str.slice(1, 12) == events["session_id"].str.slice(1, 12)).all()
    first = orders.sort("ordered_at").group_by("customer_id").agg(pl.col("order_id").first())
    assert first["order_id"].str.ends_with("0000").all()  # rank 0 is the customer's first order
    for frame, column, parent in ((orders, "customer_id", customers), (items, "order_id", orders),
                                  (items, "product_id", products), (_read(full, "events"), "customer_id", customers),
                                  (_read(full, "events"), "product_id", products), (_read(full, "reviews"), "product_id", products),
                                  (_read(full, "experiment_assignments"), "customer_id", customers),
                                  (_read(full, "campaign_sends"), "customer_id", customers),
                                  (_read(full, "support_tickets"), "customer_id", customers)):
        assert frame.join(parent, on=column, how="anti").height == 0, column
    assert orders.join(items, on="order_id", how="anti").height == 0  # every order has items


def test_all_timestamps_lie_in_the_window(full):
    for table, schema in SCHEMAS.items():
        frame = _read(full, table)
        for field in schema:
            if pa.types.is_timestamp(field.type) or pa.types.is_date(field.type):
                column = frame[field.name].cast(pl.Datetime("us"))
                assert column.min() >= START and column.max() < END, (table, field.name)


def test_items_sum_to_order_total_and_discount_is_list_value_minus_total(full):
    orders, items = _read(full, "orders"), _read(full, "order_items")
    prices = pl.read_parquet(full / TRUTH_PRICES_FILE).sort("valid_from")
    assert items["quantity"].min() >= 1 and items["unit_price"].min() >= 0
    lines = (
        items.join(orders.select("order_id", "ordered_at"), on="order_id")
        .sort("ordered_at")
        .join_asof(prices, left_on="ordered_at", right_on="valid_from", by="product_id", strategy="backward",
                   check_sortedness=False)
    )
    assert lines["list_price"].null_count() == 0
    sums = lines.group_by("order_id").agg(
        (pl.col("quantity") * pl.col("unit_price")).sum().alias("paid"),
        (pl.col("quantity") * pl.col("list_price")).sum().alias("list_value"),
    )
    joined = orders.join(sums, on="order_id")
    assert joined.height == orders.height
    assert (joined["paid"] - joined["order_total"]).abs().max() < 0.005
    expected_discount = (joined["list_value"] - joined["order_total"]).clip(lower_bound=0)
    assert (expected_discount - joined["discount_total"]).abs().max() < 0.005
    assert orders["discount_total"].min() >= 0
    # Realistic baskets: most orders are discounted a little, a fair share not at all.
    share = (joined["discount_total"] / joined["list_value"]).median()
    assert 0.02 < share < 0.25
    assert 0.1 < (joined["discount_total"] == 0).mean() < 0.6


def test_products_list_price_is_the_current_price_of_the_planted_history(full):
    last = pl.read_parquet(full / TRUTH_PRICES_FILE).sort("valid_from").group_by("product_id").last()
    joined = _read(full, "products").join(last, on="product_id", suffix="_history")
    assert joined.height == _read(full, "products").height
    assert (joined["list_price"] == joined["list_price_history"]).all()
    changes = pl.read_parquet(full / TRUTH_PRICES_FILE).group_by("product_id").len()
    assert changes["len"].mean() > 1.5  # a few list-price changes per product


def test_each_order_line_has_a_purchase_event_at_the_order_time_after_views(full):
    orders, items, events = _read(full, "orders"), _read(full, "order_items"), _read(full, "events")
    purchases = events.filter(pl.col("event_type") == "purchase")
    lines = items.join(orders.select("order_id", "customer_id", "ordered_at"), on="order_id")
    assert purchases.height == lines.height
    matched = lines.join(purchases, left_on=["customer_id", "product_id", "ordered_at"],
                         right_on=["customer_id", "product_id", "occurred_at"], how="semi")
    assert matched.height == lines.height
    first = events.group_by("session_id").agg(pl.col("event_type").sort_by("occurred_at").first())
    assert (first["event_type"] == "view").mean() > 0.99
    assert set(events["event_type"].unique()) == {"view", "add_to_cart", "purchase"}
    per_customer = events.height / _read(full, "customers").height
    assert 10 <= per_customer <= 40
    # Non-converting signups browse too.
    buyers = orders.select("customer_id").unique()
    browsers = events.join(buyers, on="customer_id", how="anti")["customer_id"].n_unique()
    assert browsers > 0.5 * (_read(full, "customers").height - buyers.height)


def test_first_order_of_every_customer_is_completed_and_after_signup(full):
    orders = _read(full, "orders").sort("ordered_at", "order_id")
    first = orders.group_by("customer_id").agg(pl.col("status").first(), pl.col("ordered_at").first())
    assert (first["status"] == "completed").all()
    joined = first.join(_read(full, "customers"), on="customer_id")
    assert (joined["ordered_at"] >= joined["signup_at"]).all()


# --- planted truth ---------------------------------------------------------------------------

def test_plain_bgnbd_zero_repeat_share_and_mean_repeats_match_fader_hardie_lee(plain):
    truth = _truth(plain)
    r, alpha, a, b = (truth["bgnbd"][k] for k in ("r", "alpha", "a", "b"))
    completed = _read(plain, "orders").filter(pl.col("status") == "completed")
    per_customer = completed.group_by("customer_id").agg(pl.len().alias("n"), pl.col("ordered_at").min().alias("first"))
    x = (per_customer["n"] - 1).to_numpy()
    t = ((END - per_customer["first"]).dt.total_microseconds() / 86_400e6).to_numpy()
    assert truth["bgnbd"]["exact_in_calendar_time"] is True
    # FHL (2005): P(X(T) = 0) = (alpha / (alpha + T))^r, no death right after the first purchase.
    zero_expected = ((alpha / (alpha + t)) ** r).mean()
    assert abs((x == 0).mean() - zero_expected) < 4 * np.sqrt(zero_expected * (1 - zero_expected) / x.size)
    # E[X(T)] = (a+b-1)/(a-1) [1 - (alpha/(alpha+T))^r 2F1(r, b; a+b-1; T/(alpha+T))]
    mean_expected = ((a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))).mean()
    assert abs(x.mean() - mean_expected) < 4 * x.std() / np.sqrt(x.size)
    # The latent rates behind it: lambda ~ Gamma(r, alpha), p ~ Beta(a, b).
    latent = pl.read_parquet(plain / TRUTH_CUSTOMERS_FILE)
    assert latent["lambda_per_day"].mean() == pytest.approx(r / alpha, rel=0.04)
    assert latent["p_dropout"].mean() == pytest.approx(a / (a + b), rel=0.04)


def test_mean_completed_order_value_is_the_gamma_gamma_mean(plain, full):
    for path in (plain, full):
        gg = _truth(path)["gamma_gamma"]
        completed = _read(path, "orders").filter(pl.col("status") == "completed")
        assert completed["order_total"].mean() == pytest.approx(gg["p"] * gg["gamma"] / (gg["q"] - 1), rel=0.05)
        assert _truth(path)["realised"]["mean_completed_order_value"] == pytest.approx(completed["order_total"].mean(), abs=1e-3)


def test_cancelled_and_returned_orders_are_planted_shares_of_completed_repeat_orders(full):
    orders = _read(full, "orders")
    status = orders["status"].value_counts()
    counts = dict(zip(status["status"].to_list(), status["count"].to_list(), strict=True))
    repeats = counts["completed"] - orders["customer_id"].n_unique()  # every buyer's first order is completed
    shares = _truth(full)["order_status"]
    for name in ("cancelled", "returned"):
        planted = shares[f"{name}_per_completed"]
        # Binomial noise of a share planted / (1 + c + r) among the repeat-phase orders.
        assert counts[name] / repeats == pytest.approx(planted, abs=4 * (1 + planted) * (planted / repeats) ** 0.5)


def _conversion_by_channel(path: Path) -> pl.DataFrame:
    buyers = _read(path, "orders").filter(pl.col("status") == "completed").select("customer_id").unique()
    return (
        _read(path, "customers")
        .with_columns(pl.col("customer_id").is_in(buyers["customer_id"].implode()).alias("converted"))
        .group_by("acquisition_channel")
        .agg(pl.len().alias("signups"), pl.col("converted").sum().alias("converted"))
    )


def test_channels_convert_as_planted_and_truth_counts_are_exact(full):
    truth = _truth(full)["channels"]
    realised = _conversion_by_channel(full)
    for row in realised.iter_rows(named=True):
        channel = truth[row["acquisition_channel"]]
        assert row["signups"] == channel["realised"]["signups"]
        assert row["converted"] == channel["realised"]["converted"]
        planted = channel["first_order_conversion_probability"]
        rate = row["converted"] / row["signups"]
        assert abs(rate - planted) < 4 * np.sqrt(planted * (1 - planted) / row["signups"]) + 0.01
    rates = {r["acquisition_channel"]: r["converted"] / r["signups"] for r in realised.iter_rows(named=True)}
    assert rates["referral"] > rates["organic"] > rates["paid_search"] > rates["affiliate"] > rates["paid_social"]


def test_spend_per_converted_customer_recovers_the_planted_cac(full):
    truth = _truth(full)["channels"]
    spend = _read(full, "marketing_spend")
    assert set(spend["channel"].unique()) == {"paid_search", "paid_social", "affiliate"}
    assert spend.height == 3 * 730  # one row per paid channel per day
    conversion = {r["acquisition_channel"]: r for r in _conversion_by_channel(full).iter_rows(named=True)}
    for channel, total in spend.group_by("channel").agg(pl.col("spend").sum()).iter_rows():
        planted = truth[channel]
        counts = conversion[channel]
        assert total == pytest.approx(planted["realised"]["spend"], abs=0.01)
        assert total / counts["signups"] == pytest.approx(planted["cac_per_signup"], rel=0.01)
        cac = total / counts["converted"]
        assert planted["cac_per_converted_customer"] == pytest.approx(
            planted["cac_per_signup"] / planted["first_order_conversion_probability"])
        # Within 5%, or within the binomial noise of the conversion count if that is larger.
        noise = 3 / np.sqrt(counts["converted"])
        assert cac == pytest.approx(planted["cac_per_converted_customer"], rel=max(0.05, noise))


def test_experiment_treatment_lifts_conversion_within_30_days(full, plain):
    experiment = _truth(full)["experiments"]["checkout_free_shipping_2025q4"]
    # The signup experiment only (the others enrol existing customers: test_experiments_simulator.py).
    assignments = _read(full, "experiment_assignments").filter(pl.col("experiment_id") == experiment["experiment_id"])
    customers = _read(full, "customers")
    assert assignments.join(customers, on="customer_id").filter(pl.col("assigned_at") != pl.col("signup_at")).height == 0
    signup = assignments["assigned_at"]
    assert signup.min() >= datetime(2025, 10, 1) and signup.max() < datetime(2026, 2, 1)
    first = _read(full, "orders").filter(pl.col("status") == "completed").group_by("customer_id").agg(pl.col("ordered_at").min())
    rates = (
        assignments.join(first, on="customer_id", how="left")
        .with_columns(((pl.col("ordered_at") - pl.col("assigned_at")) <= pl.duration(days=30)).fill_null(False).alias("hit"))
        .group_by("variant").agg(pl.len().alias("n"), pl.col("hit").sum().alias("hits"))
    )
    by_variant = {r["variant"]: r for r in rates.iter_rows(named=True)}
    for variant, row in by_variant.items():
        assert row["n"] == experiment["realised"][variant]["assigned"]
        assert row["hits"] == experiment["realised"][variant]["converted_within_metric_window"]
    treated = by_variant["treatment"]["hits"] / by_variant["treatment"]["n"]
    control = by_variant["control"]["hits"] / by_variant["control"]["n"]
    assert treated > control
    assert abs(by_variant["treatment"]["n"] / (by_variant["control"]["n"] + by_variant["treatment"]["n"]) - 0.5) < 0.03
    assert _truth(plain)["experiments"]["checkout_free_shipping_2025q4"]["relative_lift"] == 0.0


def test_review_ratings_follow_satisfaction_and_texts_follow_the_country(full):
    reviews = _read(full, "reviews")
    latent = pl.read_parquet(full / TRUTH_CUSTOMERS_FILE).select("customer_id", "satisfaction")
    joined = reviews.join(latent, on="customer_id")
    assert joined.height == reviews.height
    assert set(reviews["rating"].unique()) == {1, 2, 3, 4, 5}
    assert np.corrcoef(joined["rating"].to_numpy(), joined["satisfaction"].to_numpy())[0, 1] > 0.5
    assert 3.3 < reviews["rating"].mean() < 4.3
    country = _read(full, "customers").select("customer_id", "country")
    texts = reviews.join(country, on="customer_id")
    is_chinese = texts["review_text"].str.contains(r"\p{Han}")
    assert (is_chinese == (texts["country"] == "CN")).all()
    assert (texts["review_text"].str.len_chars() > 0).all()
    completed_lines = _read(full, "order_items").join(
        _read(full, "orders").filter(pl.col("status") == "completed"), on="order_id", how="semi")
    assert 0.05 < reviews.height / completed_lines.height < 0.12


def test_effects_switch_changes_only_purchase_behaviour(full, plain):
    full_truth, plain_truth = _truth(full), _truth(plain)
    assert {c["lambda_multiplier"] for c in plain_truth["channels"].values()} == {1.0}
    assert {c["logit_p_shift"] for c in plain_truth["channels"].values()} == {0.0}
    assert plain_truth["satisfaction"]["dropout_logit_per_sd"] == 0.0
    assert plain_truth["seasonality"]["purchase_yearly_amplitude"] == 0.0
    assert len({c["lambda_multiplier"] for c in full_truth["channels"].values()}) > 1
    assert full_truth["satisfaction"]["dropout_logit_per_sd"] < 0
    # With effects, unhappy customers drop out more; without, satisfaction and dropout are unrelated.
    for path, expected_sign in ((full, -1), (plain, 0)):
        latent = pl.read_parquet(path / TRUTH_CUSTOMERS_FILE)
        correlation = np.corrcoef(latent["satisfaction"].to_numpy(), latent["p_dropout"].to_numpy())[0, 1]
        assert (correlation < -0.1) if expected_sign else (abs(correlation) < 0.03)
    # Conversion is acquisition, not purchase behaviour: it still differs by channel.
    rates = {r["acquisition_channel"]: r["converted"] / r["signups"] for r in _conversion_by_channel(plain).iter_rows(named=True)}
    assert rates["referral"] > 1.8 * rates["paid_social"]


def test_seasonality_raises_repeat_purchases_in_the_planted_peak(full, plain):
    def peak_ratio(path: Path) -> float:
        orders = _read(path, "orders").filter(pl.col("status") == "completed").sort("ordered_at")
        repeats = orders.filter(pl.col("customer_id").is_first_distinct().not_())
        month = repeats["ordered_at"].dt.month()
        year = repeats["ordered_at"].dt.year()
        # Peak (early December) vs trough (half a year away) of 2025. Growth of the customer
        # base raises both ratios alike; only the planted seasonality separates them.
        peak = repeats.filter(month.is_in([11, 12]) & (year == 2025)).height
        trough = repeats.filter(month.is_in([5, 6]) & (year == 2025)).height
        return peak / trough

    # s(peak) / s(trough) is about (1 + 0.25) / (1 - 0.25) for amplitude 0.25.
    assert peak_ratio(full) > 1.3 * peak_ratio(plain)


# --- dirty rows ------------------------------------------------------------------------------

_KEY = {
    "customers": "customer_id", "products": "product_id", "orders": "order_id", "order_items": "order_id",
    "events": "event_id", "reviews": "review_id", "marketing_spend": "channel", "experiment_assignments": "customer_id",
    "campaign_sends": "customer_id", "support_tickets": "ticket_id",
}
_AMOUNT = {"orders": "order_total", "order_items": "unit_price", "products": "list_price", "marketing_spend": "spend",
           "campaign_sends": "coupon_value"}
_TIME = {
    "customers": "signup_at", "orders": "ordered_at", "events": "occurred_at", "reviews": "created_at",
    "marketing_spend": "spend_date", "experiment_assignments": "assigned_at", "campaign_sends": "sent_at",
    "support_tickets": "created_at",
}
_FOREIGN = {
    "orders": ("customer_id", "customers"), "order_items": ("product_id", "products"),
    "events": ("customer_id", "customers"), "reviews": ("product_id", "products"),
    "experiment_assignments": ("customer_id", "customers"), "campaign_sends": ("customer_id", "customers"),
    "support_tickets": ("customer_id", "customers"),
}
_CAST = {
    "customers": "timestamp", "products": "double", "orders": "double", "order_items": "integer",
    "events": "timestamp", "reviews": "integer", "marketing_spend": "double", "experiment_assignments": "timestamp",
    "campaign_sends": "double", "support_tickets": "timestamp",
}


def _defect_flags(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> dict[str, int]:
    """Count each defect class independently of the generator, and rows with 2+ defects."""
    columns = [f.name for f in SCHEMAS[table]]
    flags = {
        "null_key": f"{_KEY[table]} is null",
        "duplicate_id": f"row_number() over (partition by {', '.join(columns)}) > 1",
        "unparseable_value": f"{UNPARSEABLE_COLUMN[table]} is not null and try_cast({UNPARSEABLE_COLUMN[table]} as {_CAST[table]}) is null",
    }
    if table in _AMOUNT:
        flags["negative_amount"] = f"try_cast({_AMOUNT[table]} as double) < 0"
    if table in _TIME:
        flags["future_timestamp"] = f"try_cast({_TIME[table]} as timestamp) >= timestamp '2100-01-01'"
    if table in _FOREIGN:
        column, parent = _FOREIGN[table]
        parent_key = _KEY[parent]
        flags["orphan_fk"] = (f"{column} is not null and {column} not in "
                              f"(select {parent_key} from read_parquet('{path / (parent + '.parquet')}') where {parent_key} is not null)")
    selects = ", ".join(f"({condition})::int as {name}" for name, condition in flags.items())
    sql = f"select {selects} from read_parquet('{path / (table + '.parquet')}')"
    sums = ", ".join(f"sum({name})::bigint" for name in flags)
    row = con.execute(f"select {sums}, sum(({' + '.join(flags)}) > 1)::bigint, count(*) from ({sql})").fetchall()[0]
    counts = dict(zip(flags, row[:-2], strict=True))
    counts["_multiple"], counts["_rows"] = row[-2], row[-1]
    return counts


def test_dirty_rows_are_counted_in_truth_one_defect_each(dirty):
    truth = _truth(dirty)
    con = duckdb.connect()
    for table in TABLES:
        counts = _defect_flags(con, dirty, table)
        assert counts.pop("_multiple") == 0, table
        assert counts.pop("_rows") == truth["raw_rows"][table]
        planted = truth["dirty"][table]
        assert set(planted) == set(DIRTY_CLASSES[table])
        expected = {name: planted.get(name, 0) for name in counts}
        assert counts == expected, table
        clean = truth["clean_rows"][table]
        assert truth["raw_rows"][table] == clean + sum(planted.values())
        for name, n in planted.items():
            assert n == int(np.floor(0.03 * clean + 0.5)), (table, name)


def test_dirty_rows_come_after_the_clean_rows_and_have_no_children(dirty):
    truth = _truth(dirty)
    n_orders, n_items = truth["clean_rows"]["orders"], truth["clean_rows"]["order_items"]
    orders, items = _read(dirty, "orders"), _read(dirty, "order_items")
    clean_orders = orders.head(n_orders).with_columns(pl.col("order_total").cast(pl.Float64))
    clean_items = items.head(n_items).with_columns(pl.col("quantity").cast(pl.Int32))
    paid = clean_items.group_by("order_id").agg((pl.col("quantity") * pl.col("unit_price")).sum().alias("paid"))
    joined = clean_orders.join(paid, on="order_id")
    assert joined.height == n_orders
    assert (joined["paid"] - joined["order_total"]).abs().max() < 0.005
    new_orders = orders.slice(n_orders).join(clean_orders, on="order_id", how="anti").drop_nulls("order_id")
    assert new_orders.height == sum(truth["dirty"]["orders"].values()) - truth["dirty"]["orders"]["duplicate_id"] \
        - truth["dirty"]["orders"]["null_key"]
    assert new_orders.join(items, on="order_id", how="semi").height == 0
    new_customers = _read(dirty, "customers").slice(truth["clean_rows"]["customers"]).drop_nulls("customer_id")
    new_customers = new_customers.join(_read(dirty, "customers").head(truth["clean_rows"]["customers"]), on="customer_id", how="anti")
    assert new_customers.height > 0
    for table in ("orders", "events", "reviews", "experiment_assignments", "campaign_sends", "support_tickets"):
        assert _read(dirty, table).join(new_customers, on="customer_id", how="semi").height == 0, table


# --- API and CLI -----------------------------------------------------------------------------

def test_bad_arguments_raise_clear_value_errors():
    with pytest.raises(ValueError, match="customers"):
        build_config(customers=0)
    with pytest.raises(ValueError, match="effects"):
        build_config(effects="some")
    with pytest.raises(ValueError, match="end"):
        build_config(start=date(2025, 1, 1), end=date(2024, 1, 1))
    with pytest.raises(ValueError, match="dirty_rate"):
        build_config(dirty_rate=-0.1)
    with pytest.raises(ValueError, match="dirty_rate"):
        build_config(dirty_rate=0.5)
    assert build_config(customers=50_000).products == 2_500
    assert build_config(customers=1_000).products == 300
    assert build_config(customers=5_000_000).products == 50_000


def test_a_tiny_shop_and_a_short_window_still_write_every_table(tmp_path):
    truth = generate(customers=1, seed=1, out=tmp_path, start=date(2022, 1, 1), end=date(2022, 1, 31))
    for table, schema in SCHEMAS.items():
        assert pq.read_schema(tmp_path / f"{table}.parquet").names == schema.names
    # `customers` counts signups over the scale horizon (730 days from the start), so a 31-day
    # window holds only the first of them (here none or one).
    assert truth["raw_rows"]["customers"] == truth["realised"]["customers"] <= 1
    assert truth["window"]["length_days"] == 31
    # The configured experiment window misses the scale horizon, so it is moved to 60-77% of it
    # (decided from the start only, so a shorter window keeps the same experiment).
    experiment = truth["experiments"]["checkout_free_shipping_2025q4"]
    assert experiment["window_was_moved_into_data"] is True
    assert experiment["window_start"] == str(date(2022, 1, 1) + timedelta(days=438))
    assert experiment["window_end"] == str(date(2022, 1, 1) + timedelta(days=562))


def test_a_shop_without_any_order_writes_empty_tables_with_the_contract_schema(tmp_path):
    truth = generate(customers=2, seed=4, out=tmp_path, dirty_rate=0.1)  # neither signup of seed 4 converts
    assert truth["raw_rows"]["orders"] == truth["raw_rows"]["order_items"] == truth["raw_rows"]["reviews"] == 0
    assert truth["realised"]["mean_completed_order_value"] is None
    for table in TABLES:
        assert pq.read_schema(tmp_path / f"{table}.parquet").names == SCHEMAS[table].names
    assert _read(tmp_path, "orders").height == 0
    assert truth["raw_rows"]["events"] > 0  # the two signups still browsed


def test_cli_generate_writes_the_files_and_prints_one_line_per_table(tmp_path, capsys):
    assert main(["-q", "generate", "--customers", "500", "--seed", "2", "--out", str(tmp_path), "--effects", "none"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(TABLES) + 1 and lines[-1].endswith(TRUTH_FILE)
    assert _truth(tmp_path)["effects"] == "none"
    assert main(["-q", "generate", "--customers", "10", "--start", "2025-01-02", "--end", "2025-01-01",
                 "--out", str(tmp_path / "x")]) == 2


# --- MBG/NBD scenario ------------------------------------------------------------------------

@pytest.fixture(scope="session")
def mbg(tmp_path_factory) -> Path:
    """--dropout-after-first with effects='none': plain MBG/NBD + Gamma-Gamma."""
    out = tmp_path_factory.mktemp("sim_mbg")
    generate(customers=20_000, seed=5, out=out, effects="none", dropout_after_first=True)
    return out


def _repeats_and_latent(path: Path) -> pl.DataFrame:
    completed = _read(path, "orders").filter(pl.col("status") == "completed")
    per_customer = completed.group_by("customer_id").agg((pl.len() - 1).alias("x"), pl.col("ordered_at").min().alias("first"))
    latent = pl.read_parquet(path / TRUTH_CUSTOMERS_FILE).select("customer_id", "lambda_per_day", "p_dropout", "died_at")
    return per_customer.join(latent, on="customer_id").with_columns(
        ((pl.lit(END) - pl.col("first")).dt.total_microseconds() / 86_400e6).alias("t"))


def test_dropout_after_first_plants_mbg_nbd_and_documents_it(mbg, plain):
    truth, plain_truth = _truth(mbg), _truth(plain)
    assert truth["purchase_process"]["name"] == truth["bgnbd"]["process"] == "MBG/NBD"
    assert truth["purchase_process"]["dropout_after_first"] is True and truth["args"]["dropout_after_first"] is True
    assert plain_truth["purchase_process"]["name"] == "BG/NBD"
    assert {k: truth["purchase_process"]["parameters"][k] for k in ("r", "alpha", "a", "b")} == \
        {k: truth["bgnbd"][k] for k in ("r", "alpha", "a", "b")}
    # Given each customer's latent (lambda, p): P(no repeat by T) = p + (1 - p) exp(-lambda T)
    # under MBG/NBD (death possible right after the first purchase), exp(-lambda T) under BG/NBD.
    for path, dies_at_first in ((mbg, True), (plain, False)):
        frame = _repeats_and_latent(path)
        lam, p, t = (frame[c].to_numpy() for c in ("lambda_per_day", "p_dropout", "t"))
        expected = (p + (1 - p) * np.exp(-lam * t)) if dies_at_first else np.exp(-lam * t)
        zero = (frame["x"] == 0).to_numpy()
        assert abs(zero.mean() - expected.mean()) < 4 * np.sqrt((expected * (1 - expected)).sum()) / zero.size
        # Dying right after the first order: died_at == the first order, only under MBG/NBD.
        at_first = frame.filter(pl.col("died_at") == pl.col("first")).height
        assert (at_first > 0.1 * frame.height) if dies_at_first else at_first == 0
