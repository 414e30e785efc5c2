"""Percentile bootstrap over users for mean metrics and paired differences.

Every model in a split is evaluated on the same users, so one set of resampling weights serves
all of them: a difference between two models is then a paired bootstrap (the per-user
difference is resampled), which is much tighter than two independent intervals.

Resampling uses Poisson(1) weights per user (the "Poisson bootstrap", Hanley & MacGibbon 2006;
Chamandy et al. 2012): each replicate mean is ``sum w_u x_u / sum w_u``. It equals the
multinomial bootstrap in the limit, needs no ``n x n`` draws, and is generated in chunks of
replicates so memory stays ``chunk x users`` whatever the number of users.
"""

from __future__ import annotations

import numpy as np

_CHUNK = 64


def bootstrap_means(
    values: np.ndarray, *, samples: int, confidence_level: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) percentile interval of the mean of each column of ``values`` (users x m).

    NaN values (a metric undefined for a user, e.g. diversity of a one-item list) are left out
    of that column's means. Columns with no finite value get NaN bounds. Deterministic for a
    given ``seed``; the same seed gives the same weights, so calls on the same users are paired.
    """
    if samples < 1 or not 0 < confidence_level < 1:
        raise ValueError(f"need samples >= 1 and 0 < confidence_level < 1, got {samples}, {confidence_level}")
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError("values must be a 2-d array (users x columns)")
    n, m = x.shape
    if n == 0:
        nan = np.full(m, np.nan)
        return nan, nan.copy()
    finite = np.isfinite(x)
    filled = np.where(finite, x, 0.0)
    rng = np.random.default_rng(seed)
    means = np.empty((samples, m))
    for start in range(0, samples, _CHUNK):
        stop = min(samples, start + _CHUNK)
        weights = rng.poisson(1.0, size=(stop - start, n)).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            means[start:stop] = (weights @ filled) / (weights @ finite)
    tail = (1.0 - confidence_level) / 2.0
    with np.errstate(invalid="ignore"):
        lower = np.nanquantile(means, tail, axis=0) if np.isfinite(means).any() else np.full(m, np.nan)
        upper = np.nanquantile(means, 1.0 - tail, axis=0) if np.isfinite(means).any() else np.full(m, np.nan)
    return np.asarray(lower), np.asarray(upper)
