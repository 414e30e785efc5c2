"""A small low-rank purchase generator for recommender tests and benchmarks.

Not the project simulator (``ecom_growth.simulator`` tells the whole shop's story); this only
plants what collaborative filtering needs, so tests do not depend on the simulator:
customer tastes ``U`` and product factors ``V`` of rank ``rank``, and a Zipf popularity.
Each purchase draws ``candidates`` products by popularity and keeps the one with the highest
``taste_strength * U_u . V_i + Gumbel`` noise (a logit choice among popular candidates), so
popularity alone explains part of the choices and low-rank taste the rest. Purchase times are
uniform on [0, 1) so a cutoff gives a temporal holdout. Vectorised, chunked, seeded.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from ecom_growth.recommend.matrix import ITEM_COL, USER_COL


def synthetic_purchases(
    n_users: int = 3000,
    n_items: int = 500,
    *,
    rank: int = 8,
    purchases_per_user: float = 12.0,
    zipf_exponent: float = 1.0,
    taste_strength: float = 3.0,
    candidates: int = 50,
    seed: int = 0,
    chunk_events: int = 200_000,
) -> pl.DataFrame:
    """Purchase events: customer_id ("c<n>"), product_id ("p<n>"), purchased_at (float in [0, 1)).

    Each customer makes ``1 + Poisson(purchases_per_user - 1)`` purchases.
    """
    if n_users < 1 or n_items < 1 or rank < 1 or candidates < 1 or purchases_per_user < 1:
        raise ValueError("n_users, n_items, rank, candidates and purchases_per_user must be >= 1")
    rng = np.random.default_rng(seed)
    users = rng.normal(0.0, 1.0 / np.sqrt(rank), size=(n_users, rank)).astype(np.float32)
    items = rng.normal(0.0, 1.0, size=(n_items, rank)).astype(np.float32)
    items /= np.linalg.norm(items, axis=1, keepdims=True)  # taste = |U_u| * cos(U_u, V_i)
    weights = 1.0 / np.arange(1, n_items + 1) ** zipf_exponent
    weights = weights[rng.permutation(n_items)]
    cumulative = np.cumsum(weights / weights.sum())
    cumulative[-1] = 1.0
    per_user = 1 + rng.poisson(purchases_per_user - 1, size=n_users)
    event_user = np.repeat(np.arange(n_users, dtype=np.int64), per_user)
    chosen = np.empty(event_user.size, dtype=np.int64)
    for start in range(0, event_user.size, chunk_events):  # chunks bound memory, not a row loop
        u = event_user[start : start + chunk_events]
        cand = np.searchsorted(cumulative, rng.random((u.size, candidates)), side="right")
        cand = np.minimum(cand, n_items - 1)
        taste = np.einsum("ek,eck->ec", users[u], items[cand])
        utility = taste_strength * taste + rng.gumbel(size=taste.shape).astype(np.float32)
        chosen[start : start + chunk_events] = cand[np.arange(u.size), np.argmax(utility, axis=1)]
    times = rng.random(event_user.size)
    return pl.DataFrame(
        {"_u": event_user, "_i": chosen, "purchased_at": times},
        schema={"_u": pl.Int64, "_i": pl.Int64, "purchased_at": pl.Float64},
    ).select(
        pl.format("c{}", "_u").alias(USER_COL),
        pl.format("p{}", "_i").alias(ITEM_COL),
        "purchased_at",
    )
