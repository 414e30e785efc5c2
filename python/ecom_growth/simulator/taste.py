"""Customer taste and the item-choice model (the simulator's hot loop).

A choice draws a small candidate set the way a shop surfaces products: each candidate's
category from the customer's category mix softmax(temperature * U_u . M_c), then a product
within it by popularity (Zipf). The customer takes the Gumbel-max of

    taste_scale * U_u . V_i + beta_price * log(price_i(t) / price_i(start))
        - budget_coefficient * |log(reference price_i / per-line budget)|

over the candidates: a multinomial logit among the candidates. Popularity and the planted
own-price elasticity (popularity x price ratio ** e_category, catalogue.py) enter through the
candidate sampling, low-rank taste (U V^T, rank k) and the price elasticity through the score,
so a matrix-factorisation recommender has real signal and popularity is still a strong
baseline. The budget term uses the fixed reference price, not price(t), so the only way a
price change moves demand for a product is beta_price: the planted elasticity stays clean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecom_growth.simulator.catalogue import Catalogue
from ecom_growth.simulator.config import SimulationConfig

_BATCH = 65_536  # draws per batch: temporaries of a few MB stay in cache


def customer_factors(
    rng: np.random.Generator,
    config: SimulationConfig,
    country: np.ndarray,
    channel: np.ndarray,
    country_offsets: np.ndarray,
    channel_offsets: np.ndarray,
) -> np.ndarray:
    """U_u ~ N(0, I) plus small country and channel offsets (taste differs a little by market)."""
    k = config.taste.rank
    noise = rng.standard_normal((country.size, k))
    return (noise + country_offsets[country] + channel_offsets[channel]).astype(np.float32)


@dataclass
class CategoryMix:
    """Per-customer category probabilities as cumulative rows plus a guide table.

    Inverse-CDF sampling by binary search over millions of customers' rows is cache-hostile;
    a guide table (for each of G equal slices of [0, 1), the first category the slice can
    map to) turns it into a gather and, on average, well under one step of linear scan.
    Exact: the same category as the inverse CDF.
    """

    cumulative: np.ndarray  # (n * n_categories,) float64, row u ends with exactly 1.0
    guide: np.ndarray  # (n * GUIDE_SLOTS,) int8
    n_categories: int


GUIDE_SLOTS = 16
_EPS = 1e-12


def category_mix(config: SimulationConfig, catalogue: Catalogue, factors: np.ndarray) -> CategoryMix:
    """P(category | u) = softmax(category_temperature * U_u . M_c)."""
    logits = config.taste.category_temperature * (factors @ catalogue.centroids.T)
    logits -= logits.max(axis=1, keepdims=True)
    cumulative = np.cumsum(np.exp(logits.astype(np.float64)), axis=1)
    cumulative /= cumulative[:, -1:]
    cumulative[:, -1] = 1.0
    grid = np.arange(GUIDE_SLOTS) / GUIDE_SLOTS - _EPS
    guide = (cumulative[:, None, :] <= grid[None, :, None]).sum(axis=2).astype(np.int8)
    return CategoryMix(cumulative=cumulative.reshape(-1), guide=guide.reshape(-1), n_categories=cumulative.shape[1])


def guided_search(cumulative: np.ndarray, start: np.ndarray, query: np.ndarray) -> np.ndarray:
    """First index i >= start with cumulative[i] > query (rows end above every query)."""
    index = start.astype(np.intp)
    active = np.flatnonzero(cumulative[index] <= query)
    while active.size:
        index[active] += 1
        active = active[cumulative[index[active]] <= query[active]]
    return index


def choose_items(
    rng: np.random.Generator,
    config: SimulationConfig,
    catalogue: Catalogue,
    factors: np.ndarray,
    mix: CategoryMix,
    customer: np.ndarray,
    week: np.ndarray,
    budget_log: np.ndarray | None = None,
    price_cap: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One choice per row: (chosen product, candidates (n, C), column of the chosen candidate).

    ``customer`` indexes rows of ``factors`` (chunk-local), ``week`` is the price week of the
    choice, ``budget_log`` the log per-line budget (None: no budget term, e.g. browsing) and
    ``price_cap`` the most (reference price, currency units) the customer will pay for one
    unit: dearer candidates are excluded, and if all are, the cheapest one is taken.
    """
    taste = config.taste
    n = customer.size
    n_candidates = taste.candidates
    chosen = np.empty(n, dtype=np.int32)
    candidates = np.empty((n, n_candidates), dtype=np.int32)
    chosen_column = np.empty(n, dtype=np.int8)
    beta_price = config.prices.beta_price
    for lo in range(0, n, _BATCH):
        hi = min(n, lo + _BATCH)
        m = hi - lo
        who = np.repeat(customer[lo:hi].astype(np.intp), n_candidates)
        # Category of each candidate from the customer's mix (guided inverse CDF).
        u = rng.random(m * n_candidates)
        row = who * mix.n_categories
        slot = mix.guide[who * GUIDE_SLOTS + (u * GUIDE_SLOTS).astype(np.intp)]
        category = guided_search(mix.cumulative, row + slot, u) - row
        # Product within the category by popularity x price weight of the week (guided inverse
        # CDF over the catalogue's (week, category) blocks: see catalogue.py).
        u = rng.random(m * n_candidates)
        key = np.repeat(catalogue.block(week[lo:hi]).astype(np.intp), n_candidates) * mix.n_categories + category
        bucket = catalogue.guide_offset[key] + (u * catalogue.guide_size[key]).astype(np.intp)
        position = guided_search(catalogue.category_cumulative, catalogue.guide[bucket], key + u)
        products = catalogue.by_category[position % catalogue.n].reshape(m, n_candidates)

        score = np.matmul(catalogue.factors[products], factors[customer[lo:hi], :, None])[..., 0]
        if taste.taste_scale != 1.0:
            score *= taste.taste_scale
        if beta_price != 0.0:
            n_weeks = catalogue.log_price_ratio.shape[1]
            flat = products * n_weeks + week[lo:hi, None]
            score += beta_price * catalogue.log_price_ratio.reshape(-1)[flat]
        reference = catalogue.log_reference_price[products]
        if budget_log is not None and taste.budget_coefficient != 0.0:
            score -= taste.budget_coefficient * np.abs(reference - budget_log[lo:hi, None])
        uniform = np.maximum(rng.random(score.shape, dtype=np.float32), np.float32(1e-30))
        score -= np.log(-np.log(uniform))  # + Gumbel noise
        if price_cap is not None:
            affordable = reference <= np.log(price_cap[lo:hi, None])
            score = np.where(affordable, score, -np.inf)
            none = ~affordable.any(axis=1)
            score[none] = -reference[none]
        column = np.argmax(score, axis=1)
        candidates[lo:hi] = products
        chosen_column[lo:hi] = column
        chosen[lo:hi] = products[np.arange(m), column]
    return chosen, candidates, chosen_column
