"""Price recommendations: the price that maximises expected gross margin within guard rails.

Demand per product is the constant-elasticity curve fitted in ``ml_price_elasticity``:
units(p) = baseline_units x (p / current_price) ** e. For e < -1 margin (p - c) units(p) peaks
at p* = c e / (1 + e); for e >= -1 it rises with p, so the guard rails decide. Without a unit
cost the objective is revenue p units(p) (flagged). Guard rails, all applied here:

* evidence: a recommendation needs the elasticity interval to exclude 0, at least
  ``min_price_changes`` price changes behind it, a usable (status ok) estimate and recent sales;
* max step: |p / current - 1| <= ``max_step``;
* never below cost: p >= unit_cost;
* price endings: p is a price whose cents are in ``price_endings_cents`` (e.g. 99).

The optimum of a unimodal curve on the allowed grid is one of the two allowed prices around
the clipped continuous optimum, so the search is a handful of vectorised candidates per product.
"""

from __future__ import annotations

import numpy as np
import polars as pl

RECOMMENDATION_SCHEMA: dict[str, pl.DataType] = {
    "product_id": pl.String,
    "category": pl.String,
    "current_price": pl.Float64,
    "unit_cost": pl.Float64,
    "objective": pl.String,
    "elasticity": pl.Float64,
    "elasticity_ci_low": pl.Float64,
    "elasticity_ci_high": pl.Float64,
    "n_price_changes": pl.Int64,
    "baseline_weekly_units": pl.Float64,
    "optimal_price_unconstrained": pl.Float64,
    "recommended_price": pl.Float64,
    "price_change_pct": pl.Float64,
    "is_recommended": pl.Boolean,
    "hold_reason": pl.String,
    "expected_weekly_units": pl.Float64,
    "expected_units_change": pl.Float64,
    "expected_revenue_change": pl.Float64,
    "expected_margin_change": pl.Float64,
    "margin_change_low": pl.Float64,
    "margin_change_high": pl.Float64,
    "status": pl.String,
    "status_reason": pl.String,
}


def demand_ratio(price: np.ndarray, current: np.ndarray, elasticity: np.ndarray) -> np.ndarray:
    """units(price) / units(current) on a constant-elasticity curve."""
    return np.power(price / current, elasticity)


def objective_value(price: np.ndarray, current: np.ndarray, elasticity: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Expected margin per baseline unit at ``price`` (revenue where ``cost`` is nan)."""
    return demand_ratio(price, current, elasticity) * (price - np.nan_to_num(cost, nan=0.0))


def allowed_neighbours(target_cents: np.ndarray, endings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The largest allowed price <= target and the smallest >= target (cents; allowed: cents
    mod 100 in ``endings``)."""
    base = np.floor(target_cents / 100.0)[:, None] * 100.0
    grid = np.concatenate([base - 100.0 + endings, base + endings, base + 100.0 + endings], axis=1)
    grid = np.where(grid > 0, grid, np.nan)
    t = target_cents[:, None]
    below = np.nanmax(np.where(grid <= t + 1e-9, grid, np.nan), axis=1, initial=-np.inf)
    above = np.nanmin(np.where(grid >= t - 1e-9, grid, np.nan), axis=1, initial=np.inf)
    return below, above


def choose_prices(
    current: np.ndarray, cost: np.ndarray, elasticity: np.ndarray, *, max_step: float, endings_cents: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(unconstrained optimum or nan, best allowed price or nan) per product; nan cost = revenue."""
    with np.errstate(divide="ignore", invalid="ignore"):
        margin_optimum = np.where(elasticity < -1.0, cost * elasticity / (1.0 + elasticity), np.inf)
    has_cost = np.isfinite(cost)
    optimum = np.where(has_cost, margin_optimum, np.where(elasticity < -1.0, 0.0, np.inf))
    low = current * (1.0 - max_step)
    low = np.where(has_cost, np.maximum(low, cost), low)
    high = current * (1.0 + max_step)
    target = np.clip(optimum, low, high)
    below, above = allowed_neighbours(np.round(target * 100.0, 6), endings_cents)
    candidates = np.stack([below, above], axis=1) / 100.0
    inside = (candidates >= low[:, None] - 1e-9) & (candidates <= high[:, None] + 1e-9) & (low <= high)[:, None]
    value = objective_value(candidates, current[:, None], elasticity[:, None], cost[:, None])
    value = np.where(inside, value, -np.inf)
    pick = np.argmax(value, axis=1)
    best = candidates[np.arange(current.size), pick]
    best = np.where(np.isfinite(value[np.arange(current.size), pick]), best, np.nan)
    unconstrained = np.where(has_cost & (elasticity < -1.0), margin_optimum, np.nan)
    return unconstrained, best


def price_recommendations(
    products: pl.DataFrame, elasticity: pl.DataFrame, *, max_step: float, price_endings_cents: list[int],
    min_price_changes: int, min_improvement: float,
) -> pl.DataFrame:
    """``ml_price_recommendations``: one row per product of ``products`` (product_id, category,
    current_price, unit_cost (nullable), baseline_weekly_units) with its elasticity from
    ``ml_price_elasticity`` (product rows). Held products (no evidence, no allowed price, no
    gain of at least ``min_improvement`` x the current objective) keep their current price with
    ``hold_reason``; expected changes are per week against the baseline, with the range at the
    elasticity interval's ends."""
    if max_step <= 0 or not price_endings_cents:
        raise ValueError("pricing_max_step must be > 0 and pricing_price_endings_cents non-empty")
    rows = products.join(
        elasticity.filter(pl.col("level") == "product").select(
            "product_id", "elasticity", pl.col("ci_low").alias("elasticity_ci_low"),
            pl.col("ci_high").alias("elasticity_ci_high"), "n_price_changes", "is_significant",
            pl.col("status").alias("elasticity_status"), pl.col("status_reason").alias("elasticity_reason"),
        ),
        on="product_id", how="left",
    ).sort("product_id")
    current = rows["current_price"].cast(pl.Float64).to_numpy()
    cost = rows["unit_cost"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    e = rows["elasticity"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    e_low = rows["elasticity_ci_low"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    e_high = rows["elasticity_ci_high"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    base = rows["baseline_weekly_units"].cast(pl.Float64).fill_null(0.0).to_numpy()
    changes = rows["n_price_changes"].fill_null(0).to_numpy()
    significant = rows["is_significant"].fill_null(False).to_numpy()
    usable = (rows["elasticity_status"] == "ok").fill_null(False).to_numpy()

    unconstrained, best = choose_prices(np.where(current > 0, current, np.nan), cost, np.nan_to_num(e),
                                        max_step=max_step, endings_cents=np.asarray(price_endings_cents, dtype=np.float64))
    now_value = objective_value(current, current, np.nan_to_num(e), cost)
    best_value = objective_value(best, current, np.nan_to_num(e), cost)
    gain = np.isfinite(best_value) & (best_value > now_value + min_improvement * np.abs(now_value))
    reason = np.full(current.size, None, dtype=object)
    checks = [  # the first failing check is the reason (later ones are then moot)
        (usable & np.isfinite(e), "no usable elasticity estimate"),
        (changes >= min_price_changes, f"fewer than {min_price_changes} price changes behind the elasticity"),
        (significant, "elasticity interval includes 0"),
        (base > 0, "no recent sales"),
        (np.isfinite(best), "no allowed price (cost floor, max step and price endings leave none)"),
        (gain, "current price is already the best allowed price"),
    ]
    for ok, text in reversed(checks):
        reason = np.where(~ok, text, reason)
    recommended = np.array([r is None for r in reason])
    price = np.where(recommended, best, current)

    def change(elasticity_value: np.ndarray, margin: bool) -> np.ndarray:
        units = base * demand_ratio(price, current, elasticity_value)
        if margin:
            return units * (price - cost) - base * (current - cost)
        return units * price - base * current

    has_cost = np.isfinite(cost)
    margin_mid = np.where(has_cost, change(e, True), np.nan)
    margin_ends = np.stack([change(e_low, True), change(e_high, True)])
    out = pl.DataFrame({
        "product_id": rows["product_id"], "category": rows["category"], "current_price": current,
        "unit_cost": cost, "objective": np.where(has_cost, "margin", "revenue (unit cost missing)"),
        "elasticity": e, "elasticity_ci_low": e_low, "elasticity_ci_high": e_high, "n_price_changes": changes.astype(np.int64),
        "baseline_weekly_units": base, "optimal_price_unconstrained": unconstrained,
        "recommended_price": price, "price_change_pct": price / current - 1.0, "is_recommended": recommended,
        "hold_reason": pl.Series(reason.tolist(), dtype=pl.String),
        "expected_weekly_units": base * demand_ratio(price, current, e),
        "expected_units_change": base * (demand_ratio(price, current, e) - 1.0),
        "expected_revenue_change": change(e, False), "expected_margin_change": margin_mid,
        "margin_change_low": np.where(has_cost, np.min(margin_ends, axis=0), np.nan),
        "margin_change_high": np.where(has_cost, np.max(margin_ends, axis=0), np.nan),
        "status": np.where(usable, "ok", "degraded"),
        # a product without a row in ml_price_elasticity (e.g. first sold after a kept fit) is
        # degraded too and must say why
        "status_reason": rows.select(
            pl.when(pl.col("elasticity_status").is_null())
            .then(pl.lit("no elasticity estimate for this product (not in ml_price_elasticity; new since its fit)"))
            .otherwise(pl.col("elasticity_reason"))
        ).to_series(),
    }, strict=False)
    out = out.with_columns(pl.col(pl.Float64).fill_nan(None))
    return out.select([pl.col(c).cast(t) for c, t in RECOMMENDATION_SCHEMA.items()])


# the weekly panel's columns current_prices reads (the dbt model reads only these: at 1M customers
# the whole mart is ~2 GB of frames next to the recommender evaluation)
CURRENT_PRICE_COLUMNS = ("product_id", "category", "week_start", "units", "list_price", "is_promotion")


def current_prices(weekly: pl.DataFrame, costs: pl.DataFrame, *, baseline_weeks: int) -> pl.DataFrame:
    """Per product of the weekly panel: the regular (non-promotional) price of its latest such
    week, its unit cost (null if missing) and the baseline: mean weekly units over its last
    ``baseline_weeks`` non-promotional weeks (demand at the regular price). Reads
    ``CURRENT_PRICE_COLUMNS`` only."""
    regular = weekly.select(CURRENT_PRICE_COLUMNS).filter(~pl.col("is_promotion").fill_null(False)).sort("product_id", "week_start")
    base = regular.group_by("product_id").agg(
        pl.col("category").last(), pl.col("list_price").last().alias("current_price"),
        pl.col("units").tail(baseline_weeks).mean().cast(pl.Float64).alias("baseline_weekly_units"),
    )
    costs = costs.select("product_id", pl.col("unit_cost").cast(pl.Float64))
    return base.join(costs, on="product_id", how="left").sort("product_id")


def parse_int_list(value) -> list[int]:
    """A list var as dbt hands it to a Python model (a list, or its rendered text '[9, 19]')."""
    if isinstance(value, str):
        value = [v for v in value.strip("[] ").split(",") if v.strip()]
    return [int(v) for v in value]
