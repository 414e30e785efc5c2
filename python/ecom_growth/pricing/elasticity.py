"""Own-price elasticity of demand: Poisson pseudo-maximum likelihood (PPML) with fixed effects.

Model, per category: E[units_it] = exp(a_i,b(t) + g_t + beta log price_it) on a product x week
panel. g_t are week effects within the category (category x week effects: seasonality, trend and
the category's demand shocks). a_i,b are product x block effects, one level per product and
``block_weeks``-week block (counted back from the latest week): a product's demand level may
drift slowly, and the drift is often caused by its own past prices (a price cut wins first-time
buyers who come back later at whatever the price is then; shops call it a loyal base). With one
level per product the current-price slope would also absorb that slow, price-driven drift and
overstate the response to the current price; with one level per block beta is identified from
price changes within a block, i.e. the short-run (within-quarter) response, which is what a
price recommendation is evaluated on week by week. PPML is consistent for beta whenever the
conditional mean is right, whatever the distribution of units, keeps zero-sale weeks, and the
Poisson fixed-effects estimator has no incidental-parameter bias in the slope.

The fixed effects are concentrated out exactly (given beta and the week effects the level
effects have a closed form, and vice versa), so the fit is a few vectorised passes over the
panel and never builds a dummy matrix. Standard errors are clustered by product (sandwich on the
FE-partialled regressor), so serial correlation of a product's weeks, across its blocks too, and
overdispersion do not shrink them; with the CR3 small-sample correction (each product's score
divided by 1 - its leverage, as in the cluster jackknife), because under a Zipf-like popularity a
few best-selling products carry much of the information and the plain sandwich understates it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl


@dataclass(frozen=True)
class PpmlFit:
    beta: float
    std_error: float
    n_obs: int
    n_products: int
    n_weeks: int
    iterations: int
    converged: bool


def _group_means(values: np.ndarray, weights: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    total = np.bincount(group, weights=weights, minlength=n)
    return np.bincount(group, weights=values * weights, minlength=n) / np.where(total > 0, total, 1.0)


def _partial_out(x: np.ndarray, weights: np.ndarray, product: np.ndarray, week: np.ndarray,
                 n_products: int, n_weeks: int, sweeps: int) -> np.ndarray:
    """x minus its weighted projection on product and week dummies (alternating projections)."""
    resid = x - np.average(x, weights=weights)
    # the weights' group totals are the same in every sweep (as _group_means computes them)
    product_total, week_total = (np.bincount(g, weights=weights, minlength=n) for g, n in ((product, n_products), (week, n_weeks)))
    product_total, week_total = np.where(product_total > 0, product_total, 1.0), np.where(week_total > 0, week_total, 1.0)
    for _ in range(sweeps):
        resid = resid - (np.bincount(product, weights=resid * weights, minlength=n_products) / product_total)[product]
        resid = resid - (np.bincount(week, weights=resid * weights, minlength=n_weeks) / week_total)[week]
    return resid


def fit_ppml_two_way(
    units: np.ndarray, log_price: np.ndarray, product: np.ndarray, week: np.ndarray,
    max_iterations: int, tolerance: float, *, cluster: np.ndarray,
) -> PpmlFit:
    """PPML of ``units`` on ``log_price`` with level (``product``) and week fixed effects.

    ``product`` (the level effects: products, or product x block), ``week`` and ``cluster``
    (the standard errors' clusters, e.g. products when ``product`` is product x block) are dense
    integer codes (0..n-1). Levels or weeks without any units carry no information about beta
    (their effect goes to minus infinity); the fit runs but ignores them. Returns beta = nan
    when the price does not vary within levels. ``n_products`` counts the clusters.
    """
    units = np.asarray(units, dtype=np.float64)
    x = np.asarray(log_price, dtype=np.float64)
    n_products, n_weeks = int(product.max()) + 1, int(week.max()) + 1
    beta, a, g = 0.0, np.zeros(n_products), np.zeros(n_weeks)
    y_product = np.bincount(product, weights=units, minlength=n_products)
    y_week = np.bincount(week, weights=units, minlength=n_weeks)
    with np.errstate(divide="ignore"):
        log_y_product, log_y_week = np.log(y_product), np.log(y_week)
    def concentrate(beta: float, a: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Effects given beta: sum_t mu_it = sum_t y_it for each i and sum_i mu_it = sum_i y_it
        for each t (alternating exact updates until they stop moving)."""
        for _ in range(200):
            a = log_y_product - np.log(np.bincount(product, weights=np.exp(g[week] + beta * x), minlength=n_products))
            a = np.where(np.isfinite(a), a, -50.0)
            g_new = log_y_week - np.log(np.bincount(week, weights=np.exp(a[product] + beta * x), minlength=n_weeks))
            g_new = np.where(np.isfinite(g_new), g_new, -50.0)
            moved = float(np.max(np.abs(g_new - g)))
            g = g_new
            if moved < 1e-10:
                break
        return a, g

    converged, iteration = False, 0
    for iteration in range(1, max_iterations + 1):
        a, g = concentrate(beta, a, g)
        mu = np.exp(a[product] + g[week] + beta * x)
        x_tilde = _partial_out(x, mu, product, week, n_products, n_weeks, sweeps=20)
        information = float(np.sum(mu * x_tilde * x_tilde))
        if information <= 1e-12:
            return PpmlFit(float("nan"), float("nan"), units.size, n_products, n_weeks, iteration, False)
        step = float(np.sum(x_tilde * (units - mu))) / information
        beta += step
        if abs(step) < tolerance:
            converged = True
            break
    a, g = concentrate(beta, a, g)
    mu = np.exp(a[product] + g[week] + beta * x)
    x_tilde = _partial_out(x, mu, product, week, n_products, n_weeks, sweeps=50)
    information = float(np.sum(mu * x_tilde * x_tilde))
    score_by_cluster = np.bincount(cluster, weights=x_tilde * (units - mu))
    n_clusters = int(np.count_nonzero(np.bincount(cluster)))
    # CR3 (cluster jackknife, one-step): a cluster's score is inflated by 1 / (1 - its leverage
    # on beta). The plain sandwich understates the variance when a few best-selling products
    # carry much of the information, which they do under a Zipf-like popularity.
    leverage = np.bincount(cluster, weights=mu * x_tilde * x_tilde) / information
    inflated = score_by_cluster / np.maximum(1.0 - leverage, 0.05)
    correction = (n_clusters - 1.0) / n_clusters if n_clusters > 1 else float("nan")
    variance = correction * float(np.sum(inflated**2)) / information**2
    return PpmlFit(beta, float(np.sqrt(variance)), int(units.size), n_clusters, n_weeks, iteration, converged)


def fit_product_slopes(
    units: np.ndarray, log_price: np.ndarray, product: np.ndarray, level: np.ndarray, offset: np.ndarray,
    iterations: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-product Poisson slope of ``units`` on ``log_price`` with ``level`` intercepts (the
    category fit's level effects: product x block codes nested in ``product``) and a fixed
    ``offset`` (the category's week effects), all products at once by Newton steps on the
    concentrated likelihood. Returns (slope, robust standard error) per product code; nan
    where the product's price does not vary within its levels."""
    n, n_levels = int(product.max()) + 1, int(level.max()) + 1
    x = np.asarray(log_price, dtype=np.float64)
    y = np.asarray(units, dtype=np.float64)
    y_level = np.bincount(level, weights=y, minlength=n_levels)
    rows_per_level = np.bincount(level, minlength=n_levels)[level]
    beta = np.zeros(n)
    x_tilde = mu = np.zeros_like(x)
    information = np.zeros(n)
    for _ in range(iterations):
        eta = offset + beta[product] * x
        eta -= np.bincount(level, weights=eta, minlength=n_levels)[level] / rows_per_level
        weight = np.exp(eta)
        mu = weight * (y_level / np.bincount(level, weights=weight, minlength=n_levels))[level]
        x_tilde = x - _group_means(x, mu, level, n_levels)[level]
        information = np.bincount(product, weights=mu * x_tilde * x_tilde, minlength=n)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.bincount(product, weights=x_tilde * (y - mu), minlength=n) / information
        step = np.where(information > 1e-9, np.clip(step, -2.0, 2.0), 0.0)
        beta += step
        if np.max(np.abs(step)) < 1e-8:
            break
    residual_score = np.bincount(product, weights=(x_tilde * (y - mu)) ** 2, minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        # the larger of the robust and the model-based (Poisson) error: a product with a handful
        # of sales can show a tiny robust error by chance, and it would then escape shrinkage
        se = np.maximum(np.sqrt(residual_score) / information, 1.0 / np.sqrt(information))
    varies = information > 1e-9
    return np.where(varies, beta, np.nan), np.where(varies, se, np.nan)


METHOD = "PPML (Poisson pseudo-ML) of weekly units on log list price"
CONTROLS = ("product x {block}-week block fixed effects (absorb slow drift of a product's demand level, e.g. a loyal base"
            " won by past prices); category x week fixed effects (seasonality, trend, category-wide demand shocks);"
            " standard errors clustered by product")
PRODUCT_METHOD = ("per-product PPML slope given the category's week effects (product x block levels),"
                  " empirical-Bayes shrunk toward the category")

ELASTICITY_SCHEMA: dict[str, pl.DataType] = {
    "level": pl.String,
    "category": pl.String,
    "product_id": pl.String,
    "elasticity": pl.Float64,
    "std_error": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "raw_elasticity": pl.Float64,
    "shrinkage_weight": pl.Float64,
    "n_price_changes": pl.Int64,
    "n_products": pl.Int64,
    "n_product_weeks": pl.Int64,
    "units": pl.Int64,
    "is_category_fallback": pl.Boolean,
    "is_significant": pl.Boolean,
    "method": pl.String,
    "controls": pl.String,
    "status": pl.String,
    "status_reason": pl.String,
}


PANEL_COLUMNS = ("product_id", "category", "week_start", "units", "list_price")


def with_blocks(weekly: pl.DataFrame, block_weeks: int) -> pl.DataFrame:
    """Adds ``block``: the ``block_weeks``-week block of each row, counted back from the panel's
    latest week (block 0 ends there, so the most recent prices sit in a full block)."""
    if block_weeks < 1:
        raise ValueError(f"pricing_elasticity_block_weeks must be at least 1, got {block_weeks}")
    last = weekly["week_start"].max()
    return weekly.with_columns(
        block=((pl.lit(last) - pl.col("week_start")).dt.total_days() // (7 * block_weeks)).cast(pl.Int64)
    )


def count_price_changes(weekly: pl.DataFrame) -> pl.DataFrame:
    """(product_id, n_price_changes): weeks whose list price differs from the product's previous
    week in the same block (``with_blocks``): the changes the estimate can rest on (a change
    at a block boundary is absorbed by the block's own level)."""
    previous = pl.col("list_price").shift(1).over("product_id")
    same_block = pl.col("block") == pl.col("block").shift(1).over("product_id")
    return (
        weekly.sort("product_id", "week_start")
        .with_columns(changed=((pl.col("list_price") != previous) & same_block).fill_null(False))
        .group_by("product_id")
        .agg(pl.col("changed").sum().cast(pl.Int64).alias("n_price_changes"))
    )


def _codes(*columns: pl.Series) -> np.ndarray:
    """Dense codes 0..n-1 of the rows' (combined) values, in sorted order of the values."""
    frame = pl.DataFrame(list(columns))
    keys = frame.unique().sort(frame.columns).with_row_index("code")
    return frame.join(keys, on=frame.columns, how="left", maintain_order="left")["code"].to_numpy().astype(np.int64)


def _category_fit(panel: pl.DataFrame, max_iterations: int, tolerance: float
                  ) -> tuple[PpmlFit, np.ndarray, np.ndarray, np.ndarray]:
    """PPML on one category's panel (products and weeks with some units). Returns the fit, the
    product and level (product x block) codes and the fitted week effects per row (the offset
    of the product slopes)."""
    product, week = _codes(panel["product_id"]), _codes(panel["week_start"])
    level = _codes(panel["product_id"], panel["block"])
    units, log_price = panel["units"].to_numpy().astype(np.float64), np.log(panel["list_price"].to_numpy())
    fit = fit_ppml_two_way(units, log_price, level, week, max_iterations, tolerance, cluster=product)
    if not np.isfinite(fit.beta):
        return fit, product, level, np.zeros(units.size)
    # Week effects given beta (level effects concentrated out), for the product slopes.
    n_weeks, n_levels = int(week.max()) + 1, int(level.max()) + 1
    g = np.zeros(n_weeks)
    y_level = np.bincount(level, weights=units, minlength=n_levels)
    y_week = np.bincount(week, weights=units, minlength=n_weeks)
    with np.errstate(divide="ignore"):
        for _ in range(20):
            a = np.log(y_level / np.bincount(level, weights=np.exp(g[week] + fit.beta * log_price), minlength=n_levels))
            a = np.where(np.isfinite(a), a, -50.0)  # levels without units
            g = np.log(y_week / np.bincount(week, weights=np.exp(a[level] + fit.beta * log_price), minlength=n_weeks))
    return fit, product, level, g[week]


def price_elasticities(
    weekly: pl.DataFrame, *, min_price_changes_category: int, min_price_changes_product: int,
    confidence_level: float, max_iterations: int, tolerance: float, block_weeks: int,
) -> pl.DataFrame:
    """``ml_price_elasticity``: one 'category' row per category and one 'product' row per product
    of the weekly panel (product_id, category, week_start, units, list_price).

    Category rows: PPML with product x block (``block_weeks``) and week effects within the
    category, errors clustered by product (see module doc). Degraded (elasticity null) when the
    category's products show fewer than ``min_price_changes_category`` price changes within
    blocks or the fit fails. Product rows: the product's own slope (same level and week effects)
    shrunk toward the category (weight tau^2 / (tau^2 + se^2), tau^2 the between-product
    variance beyond noise: ``between_product_variance``); products with fewer than ``min_price_changes_product``
    changes (or no units) take the category's estimate with ``is_category_fallback``.
    ``is_significant``: the interval excludes 0.
    """
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence_level / 2.0))
    if weekly.height == 0:
        return pl.DataFrame(schema=ELASTICITY_SCHEMA)
    # only the panel's columns: the mart is wide, and every filter and sort below copies them all
    weekly = with_blocks(weekly.select(PANEL_COLUMNS), block_weeks)
    weekly = weekly.join(count_price_changes(weekly), on="product_id", how="left")
    # per product totals once (small); the panel itself is only kept as the sold rows split by
    # category: at 1M customers (5M product-weeks) each further copy of it was ~0.3 GB
    products = weekly.group_by("category", "product_id").agg(
        pl.col("n_price_changes").first(), pl.col("units").sum().cast(pl.Int64)
    )
    sold = weekly.filter(pl.col("units").sum().over("product_id") > 0)
    del weekly
    sold = sold.filter(pl.col("units").sum().over("category", "week_start") > 0)
    # one pass splits the panel by category (a filter per category rescanned all of it)
    sold_by_category = sold.partition_by("category", as_dict=True)
    nothing_sold = sold.clear()
    del sold
    controls = CONTROLS.format(block=block_weeks)
    rows: list[dict] = []
    product_frames: list[pl.DataFrame] = []
    for (category,), per_product in sorted(products.group_by("category"), key=lambda kv: kv[0]):
        panel_sold = (sold_by_category.pop((category,), nothing_sold) if category is not None
                      else nothing_sold).sort("product_id", "week_start")
        per_product = per_product.drop("category").sort("product_id")
        category_changes = int(panel_sold.group_by("product_id").agg(pl.col("n_price_changes").first())["n_price_changes"].sum())
        base = {"level": "category", "category": category, "product_id": None, "raw_elasticity": None,
                "shrinkage_weight": None, "n_price_changes": category_changes,
                "n_products": per_product.height, "n_product_weeks": panel_sold.height,
                "units": int(per_product["units"].sum()), "is_category_fallback": False,
                "method": METHOD, "controls": controls}
        reason = None
        if panel_sold.height == 0 or category_changes < min_price_changes_category:
            reason = (f"{category_changes} price changes among products with sales "
                      f"(need {min_price_changes_category}): elasticity not identified")
        else:
            fit, product_code, level_code, offset = _category_fit(panel_sold, max_iterations, tolerance)
            if not (np.isfinite(fit.beta) and np.isfinite(fit.std_error) and fit.converged):
                reason = "PPML did not converge or the price does not vary within product-blocks"
        if reason is not None:
            rows.append({**base, "elasticity": None, "std_error": None, "ci_low": None, "ci_high": None,
                         "is_significant": False, "status": "degraded", "status_reason": reason})
            product_frames.append(_product_rows(per_product, category, None, None, z, reason, "degraded"))
            continue
        beta_c, se_c = fit.beta, fit.std_error
        rows.append({**base, "elasticity": beta_c, "std_error": se_c, "ci_low": beta_c - z * se_c,
                     "ci_high": beta_c + z * se_c, "is_significant": abs(beta_c) > z * se_c,
                     "status": "ok", "status_reason": None})
        slope, slope_se = fit_product_slopes(panel_sold["units"].to_numpy(), np.log(panel_sold["list_price"].to_numpy()),
                                             product_code, level_code, offset, max_iterations)
        ids = panel_sold["product_id"].unique().sort().to_numpy()  # the order of _codes
        slopes = pl.DataFrame({"product_id": ids, "slope": slope, "slope_se": slope_se})
        per_product = per_product.join(slopes, on="product_id", how="left")
        product_frames.append(_product_rows(per_product, category, (beta_c, se_c), min_price_changes_product, z, None, "ok"))
    categories = pl.DataFrame(rows, schema=ELASTICITY_SCHEMA, orient="row") if rows else pl.DataFrame(schema=ELASTICITY_SCHEMA)
    return pl.concat([categories, *product_frames]).sort("level", "category", "product_id", nulls_last=False)


def elasticity_is_usable(table: pl.DataFrame) -> bool:
    """Whether a stored ``price_elasticities`` table estimated at least one category (status ok):
    only then may a later build keep it under var ml_retrain_after_days; a table where every
    category is degraded (too few price changes so far) is refitted on every build."""
    if table.height == 0 or not {"level", "status"} <= set(table.columns):
        return False
    return table.filter((pl.col("level") == "category") & (pl.col("status") == "ok")).height > 0


def between_product_variance(slope: np.ndarray, std_error: np.ndarray, center: float) -> float:
    """tau^2, the variance of the products' true slopes around ``center`` (the category's), by
    robust moments: the smallest tau^2 at which the standardised deviations
    (slope - center) / sqrt(se^2 + tau^2) have a robust sd (1.4826 x median absolute value) of at
    most 1. Each slope is scaled by its own error, so a spread that the products' unequal noise
    explains is not mistaken for heterogeneity (the median noise against the spread of all slopes
    was: it gave weight to pure noise), and the median keeps a few wild slopes of thinly sold
    products from inflating it. 0 when the noise alone explains the spread."""
    deviation = np.abs(np.asarray(slope, dtype=np.float64) - center)
    variance = np.asarray(std_error, dtype=np.float64) ** 2

    def robust_sd(tau2: float) -> float:
        return 1.4826 * float(np.median(deviation / np.sqrt(variance + tau2)))

    if deviation.size == 0 or robust_sd(0.0) <= 1.0:
        return 0.0
    low, high = 0.0, float(np.max(deviation**2))
    while robust_sd(high) > 1.0:
        high *= 4.0
    for _ in range(60):  # robust_sd falls as tau^2 grows: bisection to relative precision 1e-18
        middle = 0.5 * (low + high)
        low, high = (middle, high) if robust_sd(middle) > 1.0 else (low, middle)
    return high


def _product_rows(per_product: pl.DataFrame, category: str, category_fit: tuple[float, float] | None,
                  min_changes: int | None, z: float, reason: str | None, status: str) -> pl.DataFrame:
    """Product rows of one category: shrunk own slopes, or the category's estimate as fallback."""
    changes = per_product["n_price_changes"].fill_null(0).to_numpy()
    n = changes.size
    if category_fit is None:
        beta_c = se_c = float("nan")
        slope = slope_se = np.full(n, np.nan)
        own = np.zeros(n, dtype=bool)
    else:
        beta_c, se_c = category_fit
        slope = per_product["slope"].to_numpy().astype(np.float64)
        slope_se = per_product["slope_se"].to_numpy().astype(np.float64)
        own = (changes >= min_changes) & np.isfinite(slope) & np.isfinite(slope_se) & (slope_se > 0)
    tau2 = between_product_variance(slope[own], slope_se[own], beta_c) if own.sum() >= 3 else 0.0
    own_se = np.where(own, slope_se, 1.0)
    weight = np.where(own, tau2 / (tau2 + own_se**2), 0.0)
    estimate = np.where(own, beta_c + weight * (np.where(own, slope, 0.0) - beta_c), beta_c)
    se = np.sqrt(weight * np.where(own, slope_se, 0.0) ** 2 + (1.0 - weight) ** 2 * se_c**2)
    frame = pl.DataFrame({
        "level": "product", "category": category, "product_id": per_product["product_id"],
        "elasticity": estimate, "std_error": se, "ci_low": estimate - z * se, "ci_high": estimate + z * se,
        "raw_elasticity": np.where(own, slope, np.nan), "shrinkage_weight": np.where(np.isfinite(beta_c), weight, np.nan),
        "n_price_changes": changes.astype(np.int64), "n_products": 1, "n_product_weeks": None,
        "units": per_product["units"].fill_null(0).cast(pl.Int64),
        "is_category_fallback": ~own, "is_significant": np.isfinite(estimate) & (np.abs(estimate) > z * se),
        "method": PRODUCT_METHOD, "controls": CONTROLS, "status": status, "status_reason": reason,
    }, schema_overrides={"n_product_weeks": pl.Int64, "status_reason": pl.String})
    return frame.with_columns(pl.col(pl.Float64).fill_nan(None)).select(
        [pl.col(c).cast(t) for c, t in ELASTICITY_SCHEMA.items()]
    )


def elasticity_recovery(fitted: pl.DataFrame, planted: dict[str, float]) -> pl.DataFrame:
    """Category rows of ``ml_price_elasticity`` against planted elasticities (the simulator's
    _truth.json price_elasticity.by_category): per planted category its estimate, interval,
    ``is_inside`` (planted within [ci_low, ci_high]), ``z`` = (estimate - planted) / std_error and
    ``width``. A planted category without an estimate (missing or degraded) stays, with nulls
    and ``is_inside`` false: a category the model cannot estimate is a miss, not a skipped row."""
    truth = pl.DataFrame({"category": list(planted), "planted": [float(v) for v in planted.values()]})
    estimates = fitted.filter((pl.col("level") == "category") & (pl.col("status") == "ok")).select(
        "category", "elasticity", "std_error", "ci_low", "ci_high")
    return truth.join(estimates, on="category", how="left").with_columns(
        is_inside=((pl.col("ci_low") <= pl.col("planted")) & (pl.col("planted") <= pl.col("ci_high"))).fill_null(False),
        z=(pl.col("elasticity") - pl.col("planted")) / pl.col("std_error"),
        abs_error=(pl.col("elasticity") - pl.col("planted")).abs(),
        width=pl.col("ci_high") - pl.col("ci_low"),
    ).sort("category")


def pooled_recovery(recovery: pl.DataFrame, *, by: str, confidence_level: float) -> pl.DataFrame:
    """Summary of ``elasticity_recovery`` rows per ``by`` value: n, inside, coverage with its
    Clopper-Pearson (exact binomial) interval at ``confidence_level``, z mean and sd, MAE and the
    mean interval width. For calibrated intervals z is about N(0, 1) and coverage the nominal."""
    from scipy.stats import beta as beta_dist

    alpha = 1.0 - confidence_level
    summary = recovery.group_by(by).agg(
        n=pl.len(), inside=pl.col("is_inside").sum().cast(pl.Int64), z_mean=pl.col("z").mean(),
        z_sd=pl.col("z").std(), mae=pl.col("abs_error").mean(), mean_width=pl.col("width").mean(),
    ).sort(by)
    n, k = summary["n"].to_numpy(), summary["inside"].to_numpy()
    low = np.where(k > 0, beta_dist.ppf(alpha / 2, k, n - k + 1), 0.0)
    high = np.where(k < n, beta_dist.ppf(1 - alpha / 2, k + 1, n - k), 1.0)
    return summary.with_columns(coverage=pl.col("inside") / pl.col("n"), coverage_low=pl.Series(low),
                                coverage_high=pl.Series(high)).select(
        by, "n", "inside", "coverage", "coverage_low", "coverage_high", "z_mean", "z_sd", "mae", "mean_width")
