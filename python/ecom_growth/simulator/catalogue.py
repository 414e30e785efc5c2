"""The product catalogue: categories, brands, popularity, weekly list prices, latent factors.

Prices change only at week starts (weeks counted from the window start), so the list price of
any (product, time) pair is one lookup in a products x weeks grid instead of a search through
a change log; that keeps the item-choice hot loop a handful of gathers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ecom_growth.simulator.config import SimulationConfig
from ecom_growth.simulator.ids import FixedWidthIds, take_strings
from ecom_growth.simulator.streams import PRICES, stream
from ecom_growth.simulator.timeline import Window

_BRAND_HEADS = (
    "Nor", "Vel", "Ari", "Zen", "Lum", "Kai", "Sol", "Mar", "Ori", "Tek",
    "Bel", "Cor", "Dax", "Fio", "Gra", "Hal", "Ivo", "Jun", "Kor", "Lex",
)
_BRAND_TAILS = ("vik", "ora", "tek", "ly", "ex", "ia", "on", "ara", "io", "um")
BRANDS_PER_CATEGORY = 25


@dataclass
class Catalogue:
    """Products and everything the item choice needs, indexed by product number 0..n-1."""

    n: int
    category: np.ndarray  # int16 category code
    brand: np.ndarray  # int32 code into brand_names
    brand_names: list[str]
    category_names: list[str]
    popularity: np.ndarray  # float64 Zipf weight, sums to 1
    by_category: np.ndarray  # int32 product numbers sorted by category
    category_cumulative: np.ndarray  # float64: category code + cumulative popularity within it
    guide: np.ndarray  # int32 guide table over category_cumulative (see taste.guided_search)
    guide_offset: np.ndarray  # int64 per category: first guide slot
    guide_size: np.ndarray  # int64 per category: number of guide slots (2 per product)
    centroids: np.ndarray  # (n_categories, k) float32 category centroids M_c
    factors: np.ndarray  # (n, k) float32 latent V_i
    price_cents: np.ndarray  # (n, n_weeks) int64 list price in cents per price week
    log_price_ratio: np.ndarray  # (n, n_weeks) float32 log(price(t) / price at window start)
    log_reference_price: np.ndarray  # float32 log of the window-start list price (currency units)

    @functools.cached_property
    def ids(self) -> FixedWidthIds:
        return FixedWidthIds("P", np.arange(self.n), 6)


def _to_price_cents(prices: np.ndarray) -> np.ndarray:
    """Shop-style prices ending in 9 cents (2.29, 119.99), at least 0.09."""
    return np.maximum(np.rint(prices * 10.0).astype(np.int64) * 10 - 1, 9)


def build_catalogue(rng: np.random.Generator, config: SimulationConfig, n_weeks: int) -> Catalogue:
    """Products with weekly list prices for price weeks 0..n_weeks-1 (``rng`` draws everything
    but the price changes, which come from keyed per-year streams: see ``_price_steps``)."""
    n = config.products
    categories = config.categories
    n_categories = len(categories)
    weights = np.array([c.weight for c in categories])
    # Every category gets at least one product, so category sampling never lands on nothing.
    category = np.concatenate(
        [np.arange(n_categories), rng.choice(n_categories, size=n - n_categories, p=weights / weights.sum())]
    ).astype(np.int16)
    rng.shuffle(category)

    # Brands: a per-category pool, Zipf-popular within the category.
    combos = np.array([h + t for h in _BRAND_HEADS for t in _BRAND_TAILS])
    brand_pool = np.stack([rng.choice(len(combos), size=BRANDS_PER_CATEGORY, replace=False) for _ in range(n_categories)])
    brand_weights = 1.0 / np.arange(1, BRANDS_PER_CATEGORY + 1) ** 0.9
    brand_rank = rng.choice(BRANDS_PER_CATEGORY, size=n, p=brand_weights / brand_weights.sum())
    used, brand = np.unique(brand_pool[category, brand_rank], return_inverse=True)
    brand_names = [str(x) for x in combos[used]]

    # Zipf popularity over a random ranking of all products.
    rank = rng.permutation(n) + 1
    popularity = rank.astype(np.float64) ** -config.taste.popularity_zipf_exponent
    popularity /= popularity.sum()
    by_category = np.lexsort((np.arange(n), category)).astype(np.int32)
    sorted_category = category[by_category]
    sorted_pop = popularity[by_category]
    cumulative = np.cumsum(sorted_pop)
    starts = np.searchsorted(sorted_category, np.arange(n_categories))
    totals = np.add.reduceat(sorted_pop, starts)
    before = cumulative[starts] - sorted_pop[starts]
    within = (cumulative - before[sorted_category]) / totals[sorted_category]
    ends = np.append(starts[1:], n) - 1
    within[ends] = 1.0  # exact 1 at each category's end: the search below never spills over
    category_cumulative = sorted_category.astype(np.float64) + within
    # Guide table: for slot s of category c, the first product whose cumulative value can
    # exceed c + s / size (a hair below, so the guided search never starts past its answer).
    guide_size = 2 * np.bincount(sorted_category, minlength=n_categories).astype(np.int64)
    guide_offset = np.concatenate([[0], np.cumsum(guide_size)[:-1]])
    slot_category = np.repeat(np.arange(n_categories), guide_size)
    slot = np.arange(slot_category.size) - guide_offset[slot_category]
    low = slot_category + slot / guide_size[slot_category] - 1e-9
    guide = np.searchsorted(category_cumulative, low, side="right").astype(np.int32)

    # Latent factors: unit-norm category centroids plus per-product noise.
    k = config.taste.rank
    centroids = rng.standard_normal((n_categories, k))
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    factors = centroids[category] + config.taste.item_noise_sd * rng.standard_normal((n, k))

    # Weekly list prices: lognormal start price per category, a few permanent changes.
    medians = np.array([c.price_median for c in categories])
    sigmas = np.array([c.price_sigma for c in categories])
    log_start = np.log(medians[category]) + sigmas[category] * rng.standard_normal(n)
    log_path = log_start[:, None] + np.cumsum(_price_steps(config, n_weeks), axis=1)
    price_cents = _to_price_cents(np.exp(log_path))
    log_price = np.log(price_cents / 100.0)
    log_price_ratio = (log_price - log_price[:, :1]).astype(np.float32)

    return Catalogue(
        n=n,
        category=category,
        brand=brand.astype(np.int32),
        brand_names=brand_names,
        category_names=[c.name for c in categories],
        popularity=popularity,
        by_category=by_category,
        category_cumulative=category_cumulative,
        guide=guide,
        guide_offset=guide_offset,
        guide_size=guide_size,
        centroids=centroids.astype(np.float32),
        factors=factors.astype(np.float32),
        price_cents=price_cents,
        log_price_ratio=log_price_ratio,
        log_reference_price=log_price[:, 0].astype(np.float32),
    )


_BLOCK_WEEKS = 52


def _price_steps(config: SimulationConfig, n_weeks: int) -> np.ndarray:
    """(n_products, n_weeks) log-price change per week start: a Poisson process of changes per
    product (none in week 0), drawn per 52-week block from its own stream."""
    n = config.products
    steps = np.zeros((n, n_weeks))
    mean = config.prices.changes_per_year * 7.0 / 365.25 * _BLOCK_WEEKS
    for block in range(-(-n_weeks // _BLOCK_WEEKS)):
        rng = stream(config.seed, PRICES, block)
        product = np.repeat(np.arange(n), rng.poisson(mean, n))
        week = block * _BLOCK_WEEKS + rng.integers(0, _BLOCK_WEEKS, product.size)
        size = config.prices.change_log_sd * rng.standard_normal(product.size)
        inside = (week >= 1) & (week < n_weeks)
        np.add.at(steps, (product[inside], week[inside]), size[inside])
    return steps


def products_table(catalogue: Catalogue, window: Window) -> pa.Table:
    """The raw ``products`` export: list_price is the price at export time (the window's last day)."""
    current = int(window.week(np.array([window.days - 1.0]))[0])
    return pa.table(
        {
            "product_id": catalogue.ids.array,
            "category": take_strings(catalogue.category_names, catalogue.category),
            "brand": take_strings(catalogue.brand_names, catalogue.brand),
            "list_price": pa.array(catalogue.price_cents[:, current] / 100.0, type=pa.float64()),
        }
    )


def price_history_table(catalogue: Catalogue, window: Window) -> pa.Table:
    """Planted list-price history (``_truth_prices.parquet``): one row per price spell that starts
    inside the window."""
    prices = catalogue.price_cents[:, : window.n_weeks]
    changed = np.ones_like(prices, dtype=bool)
    changed[:, 1:] = prices[:, 1:] != prices[:, :-1]
    product, week = np.nonzero(changed)
    valid_from = window.start_us + week.astype(np.int64) * 7 * 86_400_000_000
    return pa.table(
        {
            "product_id": catalogue.ids.take(product),
            "valid_from": pa.array(valid_from, type=pa.timestamp("us")),
            "list_price": pa.array(prices[product, week] / 100.0, type=pa.float64()),
        }
    )
