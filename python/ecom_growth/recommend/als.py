"""Fit implicit-feedback ALS (Hu, Koren & Volinsky 2008) with the ``implicit`` library (CPU).

Threads: implicit parallelises over users/items itself, so BLAS must stay single-threaded
(nested thread pools make ALS up to 10x slower; implicit warns about it). ``fit_als`` limits
BLAS to one thread with threadpoolctl for the duration of the call, whatever the environment
says, and lets implicit use ``num_threads`` (0 = every core).

Determinism: implicit draws the initial factors from ``random_state``; each half-step solves
users (or items) independently given the other side, so the result does not depend on the
number of threads. Checked by ``test_recommend.py::test_als_is_deterministic_across_threads``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from ecom_growth.recommend.matrix import IdMaps, Weighting, interaction_matrix

log = logging.getLogger(__name__)

# hyperparameter names: of the ALS fit, and of the confidence weighting (matrix.confidence)
FIT_KEYS: tuple[str, ...] = ("factors", "regularization", "iterations")
WEIGHT_KEYS: tuple[str, ...] = ("alpha", "log_eps", "bm25_k1", "bm25_b")


def fit_als(
    matrix: sp.csr_matrix,
    *,
    factors: int = 32,
    regularization: float = 0.1,
    alpha: float = 1.0,
    iterations: int = 15,
    random_state: int = 42,
    num_threads: int = 0,
):
    """Fit ``implicit.cpu.als.AlternatingLeastSquares`` on a users x items confidence matrix.

    ``matrix`` comes from :func:`interaction_matrix` and already holds confidences
    ``1 + alpha * f(strength)``; ``alpha`` here is implicit's own multiplier on the whole
    matrix and should normally stay 1.0 (tune ``interaction_matrix(alpha=...)`` instead).
    An empty matrix (no users or no items) gives a model with zero-row factor arrays, so
    downstream code returns empty frames instead of crashing inside implicit.
    """
    from implicit.cpu.als import AlternatingLeastSquares

    if factors < 1 or iterations < 0 or regularization < 0 or alpha <= 0:
        raise ValueError(
            "need factors >= 1, iterations >= 0, regularization >= 0, alpha > 0; got "
            f"{factors}, {iterations}, {regularization}, {alpha}"
        )
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=factors,
            regularization=regularization,
            alpha=alpha,
            iterations=iterations,
            random_state=random_state,
            num_threads=num_threads,
        )
        n_users, n_items = matrix.shape
        if n_users == 0 or n_items == 0 or matrix.nnz == 0:
            rng = np.random.default_rng(random_state)
            model.user_factors = np.zeros((n_users, factors), dtype=np.float32)
            model.item_factors = (rng.random((n_items, factors), dtype=np.float32) * 0.01)
            return model
        log.info(
            "fitting ALS: %d users x %d items, %d nonzeros, factors=%d, iterations=%d",
            n_users,
            n_items,
            matrix.nnz,
            factors,
            iterations,
        )
        model.fit(matrix, show_progress=False)
    return model


@dataclass(frozen=True)
class FittedRecommender:
    """An ALS model with the matrix and id maps it was fitted on (they travel together)."""

    model: object
    matrix: sp.csr_matrix
    maps: IdMaps


def fit_recommender(
    interactions: pl.DataFrame,
    *,
    weighting: Weighting = "bm25",
    alpha: float = 1.0,
    log_eps: float = 1.0,
    bm25_k1: float = 100.0,
    bm25_b: float = 0.8,
    factors: int = 32,
    regularization: float = 0.1,
    iterations: int = 15,
    random_state: int = 42,
    num_threads: int = 0,
) -> FittedRecommender:
    """interactions -> confidence matrix -> ALS, in one call (what the dbt models need)."""
    matrix, maps = interaction_matrix(
        interactions,
        weighting=weighting,
        alpha=alpha,
        log_eps=log_eps,
        bm25_k1=bm25_k1,
        bm25_b=bm25_b,
    )
    model = fit_als(
        matrix,
        factors=factors,
        regularization=regularization,
        iterations=iterations,
        random_state=random_state,
        num_threads=num_threads,
    )
    return FittedRecommender(model=model, matrix=matrix, maps=maps)


def solve_users(model, matrix: sp.csr_matrix, *, num_threads: int = 0) -> np.ndarray:
    """Exact least-squares user factors given the model's item factors (implicit's
    ``recalculate_user``: Cholesky per user, from zero, users independent of each other).

    A deterministic function of (item factors, regularization, matrix): the final model stores
    only item factors + hyperparameters, and user factors - for the fitted customers and for
    new ones alike - are this solve. Bit-identical across runs and thread counts (BLAS is
    single-threaded here; each user is solved on its own).
    """
    n_users = matrix.shape[0]
    factors = model.item_factors.shape[1]
    if n_users == 0 or model.item_factors.shape[0] == 0:
        return np.zeros((n_users, factors), dtype=np.float32)
    model.num_threads = num_threads
    with threadpool_limits(1, "blas"):
        model._YtY = None  # YtY is cached from the item factors: recompute from the current ones
        return np.asarray(
            model.recalculate_user(np.arange(n_users), sp.csr_matrix(matrix, dtype=np.float32)),
            dtype=np.float32,
        )


def model_from_item_factors(item_factors: np.ndarray, *, regularization: float, num_threads: int = 0):
    """An implicit ALS model holding stored item factors (user factors unset), for scoring."""
    from implicit.cpu.als import AlternatingLeastSquares

    items = np.ascontiguousarray(item_factors, dtype=np.float32)
    model = AlternatingLeastSquares(
        factors=items.shape[1], regularization=regularization, alpha=1.0, num_threads=num_threads
    )
    model.item_factors = items
    return model
