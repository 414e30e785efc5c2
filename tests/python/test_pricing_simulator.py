"""The simulator's pricing plant: promotions, costs, price_history and the demand weight."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import polars as pl
import pytest

from ecom_growth.simulator import PRICE_HISTORY_FILE, PRODUCT_COSTS_FILE, build_config, generate
from ecom_growth.simulator.catalogue import _candidate_tables, build_catalogue
from ecom_growth.simulator.taste import guided_search

ARGS = {"customers": 2_000, "seed": 5, "products": 300}


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    out = tmp_path_factory.mktemp("pricing_full")
    generate(out=out, **ARGS)
    return out


def test_price_history_and_costs_of_a_shorter_run_are_a_prefix(full, tmp_path):
    cut = date(2025, 3, 31)
    generate(out=tmp_path, end=cut, **ARGS)
    boundary = datetime(2025, 4, 1)
    short = pl.read_parquet(tmp_path / PRICE_HISTORY_FILE).sort("product_id", "valid_from")
    long = pl.read_parquet(full / PRICE_HISTORY_FILE).filter(pl.col("valid_from") < boundary)
    assert short.equals(long.sort("product_id", "valid_from"))
    assert pl.read_parquet(tmp_path / PRODUCT_COSTS_FILE).equals(pl.read_parquet(full / PRODUCT_COSTS_FILE))


def test_promotions_last_one_or_two_weeks_and_are_cheaper_than_the_spell_before(full):
    history = pl.read_parquet(full / PRICE_HISTORY_FILE).sort("product_id", "valid_from").with_columns(
        next_from=pl.col("valid_from").shift(-1).over("product_id"),
    )
    promotions = history.filter(pl.col("is_promotion") & pl.col("next_from").is_not_null())
    assert promotions.height > 50
    weeks = ((promotions["next_from"] - promotions["valid_from"]).dt.total_days() // 7).unique().sort().to_list()
    assert set(weeks) <= {1, 2} and 1 in weeks
    assert history.group_by("product_id", "valid_from").len()["len"].max() == 1


def test_a_promotion_is_a_discount_on_that_weeks_regular_price():
    config = build_config(1_000, 3, date(2024, 7, 1), date(2025, 6, 30), 0.0, "full", 300)
    catalogue = build_catalogue(np.random.default_rng(0), config, 60)
    promo = catalogue.is_promotion
    assert not promo[:, 0].any() and 0.01 < promo.mean() < 0.2
    ratio = catalogue.price_cents[promo] / catalogue.regular_cents[promo]
    assert ratio.max() < 0.95 and ratio.min() > 0.65  # 10-30% off, up to the .x9 rounding
    assert np.array_equal(catalogue.price_cents[~promo], catalogue.regular_cents[~promo])


def test_unit_costs_are_positive_and_below_the_start_price(full):
    costs = pl.read_parquet(full / PRODUCT_COSTS_FILE)
    first = pl.read_parquet(full / PRICE_HISTORY_FILE).sort("valid_from").group_by("product_id").first()
    joined = costs.join(first, on="product_id")
    assert joined.height == costs.height == ARGS["products"]
    assert (joined["unit_cost"] > 0).all() and (joined["unit_cost"] < joined["list_price"]).all()


def test_without_effects_prices_do_not_move_demand():
    config = build_config(1_000, 1, date(2024, 7, 1), date(2025, 6, 30), 0.0, "none", 100)
    catalogue = build_catalogue(np.random.default_rng(0), config, 60)
    assert not catalogue.weekly_blocks and catalogue.rebuy_weight.shape == (100, 1)
    assert np.all(catalogue.rebuy_weight == 1.0)
    assert catalogue.is_promotion.any()  # prices still change, they just do not matter


def test_candidate_tables_draw_in_proportion_to_popularity_times_weight():
    category = np.array([0, 1, 0, 1, 0], dtype=np.int16)
    popularity = np.array([0.1, 0.2, 0.3, 0.15, 0.25])
    by_category = np.lexsort((np.arange(5), category)).astype(np.int32)
    weight = np.array([[1.0, 2.0], [1.0, 1.0], [1.0, 0.5], [1.0, 1.0], [1.0, 1.0]])
    cumulative, guide, offset, size, mean_weight = _candidate_tables(category, popularity, by_category, weight, 2)
    u = (np.arange(200_000) + 0.5) / 200_000
    for block, expected in ((0, [0.1, 0.3, 0.25]), (1, [0.2, 0.15, 0.25])):
        key = np.full(u.size, block * 2 + 0)
        bucket = offset[key] + (u * size[key]).astype(np.intp)
        products = by_category[guided_search(cumulative, guide[bucket], key + u) % 5]
        share = np.bincount(products, minlength=5)[[0, 2, 4]] / u.size
        np.testing.assert_allclose(share, np.array(expected) / sum(expected), atol=1e-4)
    # popularity-weighted mean weight of category 0 in block 1: (0.2 + 0.15 + 0.25) / 0.65
    assert mean_weight[0, 1] == pytest.approx(0.6 / 0.65)
    assert mean_weight[1, 0] == pytest.approx(1.0)


def test_prices_respond_with_the_planted_elasticity_in_the_choice_weight():
    config = build_config(1_000, 2, date(2024, 7, 1), date(2025, 6, 30), 0.0, "full", 200)
    catalogue = build_catalogue(np.random.default_rng(0), config, 60)
    assert catalogue.weekly_blocks
    e = catalogue.elasticity[catalogue.category]
    ratio = catalogue.rebuy_weight / catalogue.rebuy_weight[:, :1]
    # weight ratio between weeks = (price ratio) ** e x (Z-bar ratio of the category)
    implied = np.exp(e[:, None] * catalogue.log_price_ratio) / ratio
    for c in range(len(catalogue.category_names)):
        rows = implied[catalogue.category == c]
        np.testing.assert_allclose(rows, np.broadcast_to(rows[:1], rows.shape), rtol=1e-4)
