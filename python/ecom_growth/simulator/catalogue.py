"""The product catalogue: categories, brands, popularity, weekly list prices, latent factors.

Prices change only at week starts (weeks counted from the window start), so the list price of
any (product, time) pair is one lookup in a products x weeks grid instead of a search through
a change log; that keeps the item-choice hot loop a handful of gathers.

Planted demand response (``PriceConfig.elasticities``): in price week t a product's weight in
the within-category candidate draw is popularity_i x rho_i(t) ** e_c, rho = price(t) / price
at the window start (promotions included). The draw is normalised within the category, so

    E[units_i,t] = A_i x B_c,t x price_i(t) ** e_c

(A_i: the product's popularity, taste and budget fit; B_c,t: the category's demand that week
divided by Z_c,t = sum_j popularity_j rho_j(t) ** e_c): e_c is exactly the coefficient of log
price in a Poisson model of units with product and category x week effects, and a cheaper
product takes demand from its category peers through Z (substitution). Favourite re-buys get
the same factor rho ** e / Z-bar (Z-bar: the popularity-weighted category mean), so re-buys
are no price-blind part of demand. One candidate-draw table per price week keeps the hot loop
a gather: the blocks are (week, category), keyed week x n_categories + category.
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
    price_cents: np.ndarray  # (n, n_weeks) int64 price in cents per price week (promotions included)
    regular_cents: np.ndarray  # (n, n_weeks) int64 list price without promotions
    is_promotion: np.ndarray  # (n, n_weeks) bool: a temporary discount runs that week
    log_price_ratio: np.ndarray  # (n, n_weeks) float32 log(price(t) / price at window start)
    log_reference_price: np.ndarray  # float32 log of the window-start list price (currency units)
    unit_cost_cents: np.ndarray  # int64 constant unit cost
    elasticity: np.ndarray  # float64 per category: planted own-price elasticity
    rebuy_weight: np.ndarray  # (n, blocks) float32 rho ** e / Z-bar_c per choice block (1 if none)
    weekly_blocks: bool  # False: prices do not move demand, one choice block for all weeks

    def block(self, week: np.ndarray) -> np.ndarray:
        """Choice block (candidate-draw table) of each price week."""
        return week if self.weekly_blocks else np.zeros_like(week)

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

    # Latent factors: unit-norm category centroids plus per-product noise.
    k = config.taste.rank
    centroids = rng.standard_normal((n_categories, k))
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    factors = centroids[category] + config.taste.item_noise_sd * rng.standard_normal((n, k))

    # Weekly list prices: lognormal start price per category, a few permanent changes, and
    # temporary promotions on top.
    medians = np.array([c.price_median for c in categories])
    sigmas = np.array([c.price_sigma for c in categories])
    log_start = np.log(medians[category]) + sigmas[category] * rng.standard_normal(n)
    log_path = log_start[:, None] + np.cumsum(_price_steps(config, n_weeks), axis=1)
    regular_cents = _to_price_cents(np.exp(log_path))
    discount = _promotions(config, n_weeks)
    is_promotion = discount < 0
    price_cents = np.where(is_promotion, _to_price_cents(regular_cents / 100.0 * np.exp(discount)), regular_cents)
    log_price = np.log(price_cents / 100.0)
    log_price_ratio = (log_price - log_price[:, :1]).astype(np.float32)
    prices = config.prices
    if len(prices.elasticities) != n_categories or len(prices.cost_shares) != n_categories:
        raise ValueError("prices.elasticities and prices.cost_shares need one value per category")
    elasticity = np.asarray(prices.elasticities, dtype=np.float64)
    cost_noise = stream(config.seed, PRICES, 0, 2).standard_normal(n)
    unit_cost_cents = np.maximum(np.rint(
        price_cents[:, 0] * np.asarray(prices.cost_shares)[category] * np.exp(prices.cost_log_sd * cost_noise)
    ), 1).astype(np.int64)

    weekly = bool(np.any(elasticity != 0.0))
    # (n, blocks) demand weight rho ** e_c; one block per week only when prices move demand.
    weight = np.exp(elasticity[category, None] * log_price_ratio) if weekly else np.ones((n, 1))
    table = _candidate_tables(category, popularity, by_category, weight, n_categories)
    category_cumulative, guide, guide_offset, guide_size, mean_weight = table
    rebuy_weight = (weight / mean_weight[category]).astype(np.float32)

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
        regular_cents=regular_cents,
        is_promotion=is_promotion,
        log_price_ratio=log_price_ratio,
        log_reference_price=log_price[:, 0].astype(np.float32),
        unit_cost_cents=unit_cost_cents,
        elasticity=elasticity,
        rebuy_weight=rebuy_weight,
        weekly_blocks=weekly,
    )


def _candidate_tables(
    category: np.ndarray, popularity: np.ndarray, by_category: np.ndarray, weight: np.ndarray, n_categories: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Inverse-CDF tables of the within-category draw, one block per column of ``weight``.

    Block b, category c has key b x n_categories + c; ``cumulative`` holds key + the cumulative
    share of popularity x weight within it, so it rises over the whole array and one guided
    search serves every block. Returns (cumulative, guide, guide_offset, guide_size per key,
    mean weight per (category, block) weighted by popularity).
    """
    n, blocks = weight.shape
    sorted_category = category[by_category]
    mass = popularity[by_category, None] * weight[by_category]  # (n, blocks)
    starts = np.searchsorted(sorted_category, np.arange(n_categories))
    cumulative = np.cumsum(mass, axis=0)
    totals = np.add.reduceat(mass, starts, axis=0)  # (n_categories, blocks)
    before = cumulative[starts] - mass[starts]
    within = (cumulative - before[sorted_category]) / totals[sorted_category]
    ends = np.append(starts[1:], n) - 1
    within[ends] = 1.0  # exact 1 at each category's end: the search below never spills over
    block_key = np.arange(blocks)[None, :] * n_categories + sorted_category[:, None]
    flat = (block_key + within).T.reshape(-1)  # block-major: block b occupies b*n .. b*n+n-1
    # Guide table: for slot s of key k, the first product whose cumulative value can exceed
    # k + s / size (a hair below, so the guided search never starts past its answer).
    per_category = 2 * np.bincount(sorted_category, minlength=n_categories).astype(np.int64)
    guide_size = np.tile(per_category, blocks)
    guide_offset = np.concatenate([[0], np.cumsum(guide_size)[:-1]])
    # Every block has the same slot layout: build it once, search each block's own segment.
    slot_category = np.repeat(np.arange(n_categories), per_category)
    slot = np.arange(slot_category.size) - (np.cumsum(per_category) - per_category)[slot_category]
    low = slot_category + slot / per_category[slot_category] - 1e-9
    guide = np.empty(2 * n * blocks, dtype=np.int32)
    for b in range(blocks):
        segment = flat[b * n: (b + 1) * n] - b * n_categories
        guide[b * 2 * n: (b + 1) * 2 * n] = b * n + np.searchsorted(segment, low, side="right")
    category_totals = np.bincount(category, weights=popularity, minlength=n_categories)
    mean_weight = totals / category_totals[:, None]
    return flat, guide, guide_offset, guide_size, mean_weight


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


def _promotions(config: SimulationConfig, n_weeks: int) -> np.ndarray:
    """(n_products, n_weeks) log discount (<= 0) of temporary promotions: per product a Poisson
    process of 1-2 week discounts (none in week 0), drawn per 52-week block from its own stream;
    overlapping promotions take the deeper discount."""
    prices = config.prices
    n = config.products
    discount = np.zeros((n, n_weeks))
    mean = prices.promotions_per_year * 7.0 / 365.25 * _BLOCK_WEEKS
    for block in range(-(-n_weeks // _BLOCK_WEEKS)):
        rng = stream(config.seed, PRICES, block, 1)
        product = np.repeat(np.arange(n), rng.poisson(mean, n))
        week = block * _BLOCK_WEEKS + rng.integers(0, _BLOCK_WEEKS, product.size)
        two = rng.random(product.size) < prices.promotion_two_week_share
        depth = np.log1p(-rng.uniform(prices.promotion_discount_min, prices.promotion_discount_max, product.size))
        for extra, active in ((0, np.ones(product.size, dtype=bool)), (1, two)):
            w = week + extra
            inside = active & (w >= 1) & (w < n_weeks)
            np.minimum.at(discount, (product[inside], w[inside]), depth[inside])
    return discount


def products_table(catalogue: Catalogue, window: Window) -> pa.Table:
    """The raw ``products`` export: list_price is the price at export time (the window's last day,
    a promotion's price if one runs then, as in ``price_history``)."""
    current = int(window.week(np.array([window.days - 1.0]))[0])
    return pa.table(
        {
            "product_id": catalogue.ids.array,
            "category": take_strings(catalogue.category_names, catalogue.category),
            "brand": take_strings(catalogue.brand_names, catalogue.brand),
            "list_price": pa.array(catalogue.price_cents[:, current] / 100.0, type=pa.float64()),
        }
    )


def product_costs_table(catalogue: Catalogue) -> pa.Table:
    """The raw ``product_costs`` export: one constant unit cost per product."""
    return pa.table({
        "product_id": catalogue.ids.array,
        "unit_cost": pa.array(catalogue.unit_cost_cents / 100.0, type=pa.float64()),
    })


def price_history_table(catalogue: Catalogue, window: Window) -> pa.Table:
    """The raw ``price_history`` export (also ``_truth_prices.parquet``): one row per price spell
    that starts inside the window; a promotion is its own spell with ``is_promotion``.
    Only spells starting before the window end: a shorter run yields a prefix of these rows."""
    prices = catalogue.price_cents[:, : window.n_weeks]
    promotion = catalogue.is_promotion[:, : window.n_weeks]
    changed = np.ones_like(prices, dtype=bool)
    changed[:, 1:] = (prices[:, 1:] != prices[:, :-1]) | (promotion[:, 1:] != promotion[:, :-1])
    product, week = np.nonzero(changed)
    valid_from = window.start_us + week.astype(np.int64) * 7 * 86_400_000_000
    return pa.table(
        {
            "product_id": catalogue.ids.take(product),
            "valid_from": pa.array(valid_from, type=pa.timestamp("us")),
            "list_price": pa.array(prices[product, week] / 100.0, type=pa.float64()),
            "is_promotion": pa.array(promotion[product, week]),
        }
    )
