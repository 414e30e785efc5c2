"""Weekly demand forecasts per product (and category) with a rolling-origin backtest.

The panel is a dense products x weeks matrix of units (products with any sales; a few MB even
at 50k products x two years). A forecast made at origin week T for week T + h (h = 1..H) uses
only weeks <= T: recent lags and means, the same week a year earlier (seasonality), calendar
of the target week, the horizon, and the price at T relative to the product's recent prices
(the forecast is "at the current price": the price is held at its origin value). One gradient
boosting model with Poisson loss serves every horizon (h is a feature). Baselines: seasonal
naive (the same week a year earlier; the last week where a year of history is missing) and the
trailing mean (mean of the last ``trailing_mean_weeks`` weeks).

Two point forecasts per model fit: the expected units (the Poisson fit; what plans and
category totals add up) and the predictive median (the median of the negative binomial around
it). WAPE is an absolute-error measure, and the forecast that minimises expected absolute
error is the median of the predictive distribution, not its mean: for intermittent product
demand (most product-weeks sell 0-2 units) the two differ a lot, and a mean forecast loses to
any forecast biased low on WAPE. So the evaluation reports both, with their bias
(sum forecast / sum actual - 1), and the forecast table serves both.

Selection is proper for the metric: the point forecast WAPE scores (the "served point") is the
predictive median (seasonal naive, a single past week, has no distribution: its value), and the
model is chosen by the validation WAPE of its served point. The chosen model's served-point rows
are ``is_selected``; ml_demand_forecast serves that model's median as ``median_units`` and its
expected units as ``forecast_units``.

Backtest: origins every ``origin_step_weeks`` back from the last complete week; the latest
``test_origins`` are the test split (reported), the ones before them the validation split
(the model is chosen there). Every fit uses targets up to its origin only. Medians and
intervals: negative binomial with each model's dispersion estimated on its own validation
residuals (product rows); category rows sum means and variances.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl

FEATURES = ("horizon", "lag1", "lag2", "mean4", "mean13", "mean26", "mean52", "ewm8", "ewm26", "ewm52",
            "seasonal", "seasonal3",
            "week_sin", "week_cos", "log_price_ratio", "is_promotion", "target_log_price_ratio", "target_is_promotion",
            "category_trend", "category_season_index", "structural", "category_share", "shop_season_ratio")
SEASON = 52


@dataclass(frozen=True)
class Panel:
    products: np.ndarray  # product ids (rows)
    categories: np.ndarray  # category per row
    weeks: np.ndarray  # week_start dates (columns), consecutive
    units: np.ndarray  # (P, W) float64
    log_price: np.ndarray  # (P, W) float64
    promotion: np.ndarray  # (P, W) float64 0/1

    # Derived once per panel: the backtest builds features ~900 times (origins x horizons x fits),
    # and recomputing these on every call was half of its time at 1M customers.
    @cached_property
    def category_code(self) -> np.ndarray:
        """Each row's category as a code into np.unique(categories)."""
        return np.unique(self.categories.astype(str), return_inverse=True)[1]

    @cached_property
    def category_units(self) -> np.ndarray:
        """(categories, W) units per category and week (``_category_units``)."""
        return _category_units(self)

    @cached_property
    def shop_units(self) -> np.ndarray:
        """(W,) units of all products per week."""
        return self.units.sum(axis=0)


PANEL_COLUMNS = ("product_id", "category", "week_start", "units", "list_price", "is_promotion")


def build_panel(weekly: pl.DataFrame) -> Panel:
    """Dense matrices from the weekly rollup (product_id, category, week_start, units,
    list_price, is_promotion), products with any units only."""
    # the panel's columns only: the rollup is wide and the filter copies every column it keeps
    weekly = weekly.select(PANEL_COLUMNS).filter(pl.col("units").sum().over("product_id") > 0)
    # sorted distinct ids and each row's position among them (np.unique's order: polars sorts
    # strings by their UTF-8 bytes, i.e. by code point, as Python does; several times faster)
    distinct = weekly["product_id"].unique().sort()
    products = distinct.to_numpy()
    p = distinct.search_sorted(weekly["product_id"]).to_numpy()
    weeks, w = np.unique(weekly["week_start"].to_numpy(), return_inverse=True)
    shape = (products.size, weeks.size)
    units, log_price, promotion = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    units[p, w] = weekly["units"].to_numpy()
    log_price[p, w] = np.log(weekly["list_price"].to_numpy())
    promotion[p, w] = weekly["is_promotion"].cast(pl.Float64).to_numpy()
    categories = np.empty(products.size, dtype=object)
    categories[p] = weekly["category"].to_numpy()
    return Panel(products, categories, weeks, units, log_price, promotion)


def _window_mean(cumulative: np.ndarray, end: int, length: int) -> np.ndarray:
    """Mean of columns end-length+1..end (clipped at 0) from a cumulative sum with a 0 column."""
    start = max(end - length + 1, 0)
    return (cumulative[:, end + 1] - cumulative[:, start]) / (end + 1 - start)


def _category_units(panel: Panel) -> np.ndarray:
    """(categories, W) units per category and week, rows in the order of np.unique(categories)."""
    from scipy.sparse import csr_matrix

    code = panel.category_code
    n_categories = int(code.max()) + 1 if code.size else 0
    # categories x products indicator times units: np.add.at was a third of the backtest's time
    indicator = csr_matrix((np.ones(code.size), (code, np.arange(code.size))), shape=(n_categories, code.size))
    return np.asarray(indicator @ panel.units)


def _detrended(totals: np.ndarray, week: int, origin: int, half_window: int) -> float:
    """Shop units of ``week`` over a log-linear trend fitted to weeks week +- half_window (clipped
    at the first week; nan when the window would read past the origin or a week has no sales)."""
    start, end = max(week - half_window, 0), week + half_window
    if week < 0 or end > origin or np.any(totals[start: end + 1] <= 0):
        return float("nan")
    weeks = np.arange(start, end + 1)
    slope, intercept = np.polyfit(weeks, np.log(totals[start: end + 1]), 1)
    return float(totals[week] / np.exp(intercept + slope * week))


def shop_season_ratio(totals: np.ndarray, origin: int, horizon: int) -> float:
    """Seasonal factor of the target week relative to the 13 weeks up to the origin, read a year
    earlier from the shop's total units with the growth trend removed: a young, growing shop's
    year-earlier weeks mix season with growth (so the raw year-over-year index and seasonal naive
    are biased low), and a log-linear trend over a half-year either side separates the two.
    Nan when the year-earlier weeks are not yet detrendable from weeks <= ``origin``."""
    target = origin + horizon - SEASON
    numerator = np.array([_detrended(totals, w, origin, SEASON // 2) for w in range(target - 1, target + 2)])
    denominator = np.array([_detrended(totals, w, origin, SEASON // 2)
                            for w in range(origin - SEASON - 12, origin - SEASON + 1)])
    if np.isnan(numerator).all() or np.isnan(denominator).all():
        return float("nan")
    return float(np.nanmean(numerator) / np.nanmean(denominator))


def features(panel: Panel, origin: int, horizon: int, rows: np.ndarray | None = None) -> np.ndarray:
    """Feature matrix (len(rows) x FEATURES) for forecasts made at week ``origin`` for
    ``origin + horizon``; no units after ``origin`` are read. Prices of the target week are the
    shop's own plan (list prices and announced promotions are known in advance); beyond the
    panel the price is held at its origin value (the forecast "at the current price").

    Besides the product's own lags and means: its category's recent trend (mean of 4 weeks /
    13 weeks), the category's seasonal index (units around the target week a year earlier
    over units in the 13 weeks before the origin a year earlier), the structural forecast
    mean13 x that index, the product's share of its category (13 weeks), and the shop's
    detrended seasonal ratio (``shop_season_ratio``). Category and shop totals are far less
    noisy than one product's weeks, so seasonality is read there."""
    rows = np.arange(panel.units.shape[0]) if rows is None else rows
    y = panel.units[rows, : origin + 1]
    cumulative = np.concatenate([np.zeros((rows.size, 1)), np.cumsum(y, axis=1)], axis=1)
    target = origin + horizon
    seasonal_week = target - SEASON
    if seasonal_week >= 1 and seasonal_week + 1 <= origin:
        seasonal = y[:, seasonal_week]
        seasonal3 = y[:, seasonal_week - 1: seasonal_week + 2].mean(axis=1)
    else:
        seasonal = seasonal3 = np.full(rows.size, np.nan)
    code = panel.category_code[rows]
    category = panel.category_units[:, : origin + 1]
    category_cumulative = np.concatenate([np.zeros((category.shape[0], 1)), np.cumsum(category, axis=1)], axis=1)
    category_mean13 = _window_mean(category_cumulative, origin, 13)
    with np.errstate(divide="ignore", invalid="ignore"):
        trend = _window_mean(category_cumulative, origin, 4) / category_mean13
        if seasonal_week >= 1 and seasonal_week + 1 <= origin and origin - SEASON >= 12:
            index = (category[:, seasonal_week - 1: seasonal_week + 2].mean(axis=1)
                     / _window_mean(category_cumulative, origin - SEASON, 13))
        else:
            index = np.full(category.shape[0], np.nan)
        share = _window_mean(cumulative, origin, 13) / category_mean13[code]
    week_of_year = 2.0 * np.pi * (panel.weeks[0].astype("datetime64[D]").astype(np.int64) / 7.0 + target) / (365.25 / 7.0)
    recent_price = panel.log_price[rows, max(origin - 12, 0): origin + 1].mean(axis=1)
    planned = min(target, panel.units.shape[1] - 1) if target < panel.units.shape[1] else origin
    mean13 = _window_mean(cumulative, origin, 13)
    # exponentially weighted means of the whole history (half-lives 8, 26, 52 weeks)
    age = origin - np.arange(origin + 1)
    ewm = [y @ (0.5 ** (age / half)) / np.sum(0.5 ** (age / half)) for half in (8.0, 26.0, 52.0)]
    return np.column_stack([
        np.full(rows.size, float(horizon)), y[:, origin], y[:, origin - 1] if origin >= 1 else np.nan * y[:, 0],
        _window_mean(cumulative, origin, 4), mean13, _window_mean(cumulative, origin, 26),
        _window_mean(cumulative, origin, 52), *ewm,
        seasonal, seasonal3, np.full(rows.size, np.sin(week_of_year)), np.full(rows.size, np.cos(week_of_year)),
        panel.log_price[rows, origin] - recent_price, panel.promotion[rows, origin],
        panel.log_price[rows, planned] - recent_price, panel.promotion[rows, planned],
        trend[code], index[code], mean13 * index[code], share,
        np.full(rows.size, shop_season_ratio(panel.shop_units[: origin + 1], origin, horizon)),
    ])


def seasonal_naive(panel: Panel, origin: int, horizon: int) -> np.ndarray:
    """Units of the same week a year before the target (the last observed week without a year of history)."""
    week = origin + horizon - SEASON
    while week > origin:  # horizon longer than a season: step back whole seasons
        week -= SEASON
    return panel.units[:, week] if week >= 0 else panel.units[:, origin]


def trailing_mean(panel: Panel, origin: int, weeks: int) -> np.ndarray:
    """Mean units of the ``weeks`` weeks up to ``origin`` (fewer at the start), for every horizon."""
    return panel.units[:, max(origin - weeks + 1, 0): origin + 1].mean(axis=1)


def predictive_median(mean: np.ndarray, dispersion: float) -> np.ndarray:
    """Median of the negative binomial with this mean and variance mean + dispersion x mean^2
    (Poisson when dispersion is 0): the forecast that minimises expected absolute error."""
    from scipy.stats import nbinom, poisson

    # elementwise, so computed once per distinct mean (scipy's discrete ppf is slow, and
    # trailing means, zeros and tree predictions repeat a lot)
    mean, inverse = np.unique(np.maximum(np.asarray(mean, dtype=np.float64), 0.0), return_inverse=True)
    if dispersion <= 0:
        median = np.where(mean > 0, poisson.median(np.maximum(mean, 1e-12)), 0.0)
    else:
        size = 1.0 / dispersion
        median = np.where(mean > 0, nbinom.median(size, size / (size + np.maximum(mean, 1e-12))), 0.0)
    return median[inverse.reshape(-1)]


def _training_set(panel: Panel, last_origin: int, horizons: int, stride: int, max_rows: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) from origins <= last_origin - h (targets <= last_origin), every ``stride`` weeks."""
    n_products = panel.units.shape[0]
    origins = np.arange(last_origin - 1, 12, -stride)
    per_fit = max(1, max_rows // max(1, origins.size * horizons))
    x_parts, y_parts = [], []
    for origin in origins:
        rows = np.sort(rng.choice(n_products, size=min(per_fit, n_products), replace=False))
        for h in range(1, horizons + 1):
            if origin + h > last_origin:
                continue
            x_parts.append(features(panel, int(origin), h, rows))
            y_parts.append(panel.units[rows, origin + h])
    if not x_parts:
        return np.zeros((0, len(FEATURES))), np.zeros(0)
    return np.concatenate(x_parts), np.concatenate(y_parts)


# The floor keeps products without recent sales in the fit, with a small weight, instead of
# dividing by zero.
LEVEL_FLOOR_UNITS = 0.05


def _level(x: np.ndarray) -> np.ndarray:
    """The Poisson offset: the product's 13-week mean units times the shop's detrended seasonal
    ratio (1 where not yet estimable), i.e. a seasonally adjusted trailing mean."""
    ratio = x[:, FEATURES.index("shop_season_ratio")]
    return (np.maximum(x[:, FEATURES.index("mean13")], 0.0) * np.where(np.isfinite(ratio), ratio, 1.0)
            + LEVEL_FLOOR_UNITS)


def fit_model(panel: Panel, last_origin: int, horizons: int, *, stride: int, max_rows: int, seed: int,
              max_iter: int):
    """Gradient boosting (Poisson loss) on targets up to ``last_origin``; None if too little data.

    The model learns the ratio of next weeks' units to the product's level (``_level``; a Poisson
    fit with log(level) as offset: target units / level with weight level has the same deviance),
    so the trees spend their splits on departures from a seasonally adjusted trailing mean rather
    than on the product's scale. Fitted on raw units, the model read a young shop's growth into
    level and year-earlier features and carried it into the forecast (+11% bias on validation,
    +18% on test, 50k demo shop); fewer, larger leaves and a slower learning rate keep
    the corrections to the offset smooth."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    x, y = _training_set(panel, last_origin, horizons, stride, max_rows, np.random.default_rng(seed))
    if y.size < 200 or y.sum() <= 0:
        return None
    x[:, np.all(np.isnan(x), axis=0)] = 0.0  # a feature without any value (e.g. no year of history) cannot be binned
    level = _level(x)
    model = HistGradientBoostingRegressor(loss="poisson", max_iter=max_iter, learning_rate=0.05,
                                          max_leaf_nodes=15, min_samples_leaf=200, max_bins=63,
                                          random_state=seed)
    # one OpenMP thread: the same fit on any machine, and no spin-waiting threads on a busy one
    # (on a loaded 2-core machine the default threads made a 3 s fit take 100 s)
    with threadpool_limits(limits=1):
        return model.fit(x, y / level, sample_weight=level)


def _predict(model, panel: Panel, origin: int, horizon: int) -> np.ndarray:
    from threadpoolctl import threadpool_limits

    if model is None:
        return seasonal_naive(panel, origin, horizon)
    x = features(panel, origin, horizon)
    with threadpool_limits(limits=1):
        return np.maximum(model.predict(x), 0.0) * _level(x)


EVALUATION_SCHEMA: dict[str, pl.DataType] = {
    "split": pl.String, "model": pl.String, "point_forecast": pl.String, "horizon_weeks": pl.Int64,
    "n_origins": pl.Int64, "n_forecasts": pl.Int64, "actual_units": pl.Float64, "forecast_units": pl.Float64,
    "bias": pl.Float64, "wape": pl.Float64, "mase": pl.Float64, "wape_vs_baseline": pl.Float64,
    "wape_vs_baseline_low": pl.Float64, "wape_vs_baseline_high": pl.Float64,
    "is_selected": pl.Boolean, "nb_dispersion": pl.Float64, "status": pl.String, "status_reason": pl.String,
}
FORECAST_SCHEMA: dict[str, pl.DataType] = {
    "level": pl.String, "category": pl.String, "product_id": pl.String, "week_start": pl.Date,
    "horizon_weeks": pl.Int64, "forecast_units": pl.Float64, "median_units": pl.Float64, "lower_units": pl.Float64,
    "upper_units": pl.Float64, "price_assumed": pl.Float64, "model": pl.String, "status": pl.String,
    "status_reason": pl.String,
}
# expected-units models; those with a predictive distribution also yield its median
MODELS = ("gradient_boosting", "trailing_mean", "seasonal_naive")
DISTRIBUTIONAL = ("gradient_boosting", "trailing_mean")
# product resamples behind the interval of wape_vs_baseline (a method constant, like SEASON)
BOOTSTRAP_REPLICATES = 400


@dataclass(frozen=True)
class ForecastSettings:
    horizon_weeks: int
    origin_step_weeks: int
    validation_origins: int
    test_origins: int
    max_training_rows: int
    boosting_iterations: int
    interval_level: float
    seed: int
    trailing_mean_weeks: int


def _scale(panel: Panel, last: int) -> float:
    """MASE scale: mean |y_t - y_{t-52}| over all products and weeks up to ``last``."""
    if last < SEASON:
        return float(np.mean(np.abs(np.diff(panel.units[:, : last + 1], axis=1)))) if last > 0 else float("nan")
    return float(np.mean(np.abs(panel.units[:, SEASON: last + 1] - panel.units[:, : last + 1 - SEASON])))


def _point_forecasts(model, panel: Panel, origin: int, horizon: int, settings: ForecastSettings) -> dict[str, np.ndarray]:
    """Expected units of every model for ``origin + horizon``."""
    return {"gradient_boosting": _predict(model, panel, origin, horizon),
            "trailing_mean": trailing_mean(panel, origin, settings.trailing_mean_weeks),
            "seasonal_naive": seasonal_naive(panel, origin, horizon)}


def nb_dispersion(actual: np.ndarray, mean: np.ndarray) -> float:
    """Moment estimate of the negative-binomial dispersion k in variance = mean + k x mean^2:
    sum((actual - mean)^2 - mean) / sum(mean^2), 0 when the residuals are not overdispersed
    (or there is no mean to scale by)."""
    mean = np.asarray(mean, dtype=np.float64)
    denominator = float(np.sum(mean**2))
    if denominator <= 0:
        return 0.0
    return max(0.0, float(np.sum((np.asarray(actual, dtype=np.float64) - mean) ** 2 - mean)) / denominator)


def _origins(last: int, settings: ForecastSettings) -> list[tuple[str, int]]:
    """(split, origin) oldest first: the latest ``test_origins`` are 'test', the ones before 'validation'."""
    n_origins = settings.validation_origins + settings.test_origins
    origins = [last - settings.horizon_weeks - k * settings.origin_step_weeks for k in range(n_origins)][::-1]
    return [("validation" if index < settings.validation_origins else "test", origin)
            for index, origin in enumerate(origins) if origin >= SEASON // 2]


def _backtest_forecasts(panel: Panel, settings: ForecastSettings) -> list[tuple[str, int, int, float, np.ndarray, dict]]:
    """(split, origin, horizon, MASE scale, actual, expected units per model) of every backtest forecast;
    each gradient-boosting fit sees targets up to its origin only."""
    kept = []
    for split, origin in _origins(panel.units.shape[1] - 1, settings):
        model = fit_model(panel, origin, settings.horizon_weeks, stride=settings.origin_step_weeks,
                          max_rows=settings.max_training_rows, seed=settings.seed, max_iter=settings.boosting_iterations)
        scale = _scale(panel, origin)
        for h in range(1, settings.horizon_weeks + 1):
            kept.append((split, origin, h, scale, panel.units[:, origin + h], _point_forecasts(model, panel, origin, h, settings)))
    return kept


def _validation_dispersions(kept: list) -> dict[str, float]:
    """Each distributional model's NB dispersion from its own validation residuals (not the test split's)."""
    validation = [(actual, forecasts) for split, _, _, _, actual, forecasts in kept if split == "validation"]
    if not validation:
        return dict.fromkeys(DISTRIBUTIONAL, 0.0)
    actual = np.concatenate([a for a, _ in validation])
    return {name: nb_dispersion(actual, np.concatenate([f[name] for _, f in validation])) for name in DISTRIBUTIONAL}


def served_point(model: str) -> str:
    """The point forecast of ``model`` that WAPE scores and ml_demand_forecast serves as its point:
    the predictive median (the absolute-error optimum) where the model has a predictive
    distribution, else its single value ('mean' rows of seasonal naive)."""
    return "median" if model in DISTRIBUTIONAL else "mean"


def select_model(evaluation: pl.DataFrame) -> str:
    """The model whose served point forecast has the lowest validation WAPE (mean over horizons;
    ties by name). Reads the 'validation' rows only, so the test split cannot change the choice;
    seasonal naive when there are no validation rows."""
    served = pl.col("point_forecast") == pl.when(pl.col("model").is_in(DISTRIBUTIONAL)).then(
        pl.lit(served_point(DISTRIBUTIONAL[0]))).otherwise(pl.lit(served_point("seasonal_naive")))
    ranking = (evaluation.filter((pl.col("split") == "validation") & served & pl.col("wape").is_not_null())
               .group_by("model").agg(pl.col("wape").mean()).sort("wape", "model"))
    return ranking["model"][0] if ranking.height else "seasonal_naive"


def _point_forecasts_of(forecasts: dict[str, np.ndarray], dispersions: dict[str, float]):
    """(model, point forecast, values): every model's expected units, and the distributional models' medians."""
    for name, mean in forecasts.items():
        yield name, "mean", mean
        if name in DISTRIBUTIONAL:
            yield name, "median", predictive_median(mean, dispersions.get(name, 0.0))


def _baseline_intervals(kept: list, dispersions: dict[str, float], level: float, seed: int) -> pl.DataFrame:
    """Bootstrap interval of wape_vs_baseline per split x model x point forecast x horizon: products
    resampled with replacement (all of a product's origins together, the same draw for the model
    and seasonal naive, so the comparison is paired)."""
    abs_error: dict[tuple, np.ndarray] = {}  # per product, summed over origins
    for split, _, h, _, actual, forecasts in kept:
        for name, point, forecast in _point_forecasts_of(forecasts, dispersions):
            key = (split, name, point, h)
            abs_error[key] = abs_error.get(key, 0.0) + np.abs(actual - forecast)
    n_products = kept[0][4].size
    counts = np.random.default_rng(seed).multinomial(n_products, np.full(n_products, 1.0 / n_products),
                                                     size=BOOTSTRAP_REPLICATES).astype(np.float64)
    baseline = {(split, h): counts @ errors for (split, name, _, h), errors in abs_error.items() if name == "seasonal_naive"}
    rows = []
    for (split, name, point, h), errors in abs_error.items():
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = (counts @ errors) / baseline[(split, h)] - 1.0
        low, high = np.nanquantile(ratio, [0.5 - level / 2.0, 0.5 + level / 2.0]) if np.isfinite(ratio).any() else (
            np.nan, np.nan)
        rows.append({"split": split, "model": name, "point_forecast": point, "horizon_weeks": h,
                     "wape_vs_baseline_low": float(low), "wape_vs_baseline_high": float(high)})
    return pl.DataFrame(rows)


def _evaluation_frame(kept: list, dispersions: dict[str, float]) -> pl.DataFrame:
    """Aggregate the backtest forecasts to split x model x point forecast x horizon."""
    records = [
        {"split": split, "model": name, "point_forecast": point, "horizon_weeks": h, "origin": origin,
         "abs_error": float(np.abs(actual - forecast).sum()), "actual": float(actual.sum()),
         "forecast": float(forecast.sum()), "n": actual.size, "scale": scale}
        for split, origin, h, scale, actual, forecasts in kept
        for name, point, forecast in _point_forecasts_of(forecasts, dispersions)
    ]
    frame = pl.DataFrame(records).group_by("split", "model", "point_forecast", "horizon_weeks").agg(
        pl.col("origin").n_unique().cast(pl.Int64).alias("n_origins"), pl.col("n").sum().cast(pl.Int64).alias("n_forecasts"),
        pl.col("actual").sum().alias("actual_units"), pl.col("forecast").sum().alias("forecast_units"),
        (pl.col("forecast").sum() / pl.col("actual").sum() - 1.0).alias("bias"),
        (pl.col("abs_error").sum() / pl.col("actual").sum()).alias("wape"),
        ((pl.col("abs_error") / pl.col("n")) / pl.col("scale")).mean().alias("mase"),
    )
    baseline = frame.filter(pl.col("model") == "seasonal_naive").select("split", "horizon_weeks", pl.col("wape").alias("b"))
    return frame.join(baseline, on=["split", "horizon_weeks"]).with_columns(
        (pl.col("wape") / pl.col("b") - 1.0).alias("wape_vs_baseline")).drop("b")


def backtest(panel: Panel, settings: ForecastSettings) -> pl.DataFrame:
    """Rolling-origin evaluation rows (EVALUATION_SCHEMA), the served forecast marked ``is_selected``."""
    kept = _backtest_forecasts(panel, settings)
    if not kept:
        return pl.DataFrame(schema=EVALUATION_SCHEMA)
    dispersions = _validation_dispersions(kept)
    frame = _evaluation_frame(kept, dispersions).join(
        _baseline_intervals(kept, dispersions, settings.interval_level, settings.seed),
        on=["split", "model", "point_forecast", "horizon_weeks"], how="left")
    selected = select_model(frame)
    frame = frame.with_columns(
        ((pl.col("model") == selected) & (pl.col("point_forecast") == served_point(selected))).alias("is_selected"),
        pl.col("model").replace_strict(dispersions, default=None, return_dtype=pl.Float64).alias("nb_dispersion"),
        pl.lit("ok").alias("status"), pl.lit(None, pl.String).alias("status_reason"))
    return frame.select([pl.col(c).cast(t) for c, t in EVALUATION_SCHEMA.items()]).sort(
        "split", "model", "point_forecast", "horizon_weeks", descending=[True, False, False, False])


def demand_forecast(weekly: pl.DataFrame, evaluation: pl.DataFrame, settings: ForecastSettings) -> pl.DataFrame:
    """``ml_demand_forecast`` from the weekly rollup of complete weeks and the backtest
    (``ml_demand_forecast_evaluation``: the model of its ``is_selected`` rows and that model's
    dispersion; gradient boosting is refitted once on all weeks). A degraded backtest: seasonal
    naive, status degraded. ``forecast_units`` is the model's expected units (plans, revenue,
    category totals), ``median_units`` the served point forecast the selection scored: the
    predictive median on product rows (the single value for seasonal naive; on category rows,
    sums of many products, the median is taken equal to the mean)."""
    from scipy.stats import nbinom, norm

    panel = build_panel(weekly)
    last = panel.units.shape[1] - 1
    selected_rows = evaluation.filter(pl.col("is_selected"))
    selected = selected_rows["model"][0] if selected_rows.height else "seasonal_naive"
    dispersion = float(selected_rows["nb_dispersion"].drop_nulls().first() or 0.0) if selected_rows.height else 0.0
    degraded = evaluation.filter(pl.col("status") == "degraded")
    status = "degraded" if degraded.height or not selected_rows.height else "ok"
    reason = (degraded["status_reason"][0] + ": seasonal-naive forecast") if degraded.height else (
        None if selected_rows.height else "no backtest: seasonal-naive forecast")
    if panel.units.shape[0] == 0:
        return pl.DataFrame(schema=FORECAST_SCHEMA)
    model = None
    if selected == "gradient_boosting":
        model = fit_model(panel, last, settings.horizon_weeks, stride=settings.origin_step_weeks,
                          max_rows=settings.max_training_rows, seed=settings.seed, max_iter=settings.boosting_iterations)
    alpha = 0.5 - settings.interval_level / 2.0
    frames = []
    for h in range(1, settings.horizon_weeks + 1):
        if selected == "trailing_mean":
            mean = trailing_mean(panel, last, settings.trailing_mean_weeks)
        else:
            mean = _predict(model, panel, last, h) if last >= 1 else panel.units[:, last]
        variance = mean + dispersion * mean**2
        if dispersion > 0:
            size = 1.0 / dispersion
            prob = size / (size + np.maximum(mean, 1e-12))
            lower, upper = nbinom.ppf(alpha, size, prob), nbinom.ppf(1.0 - alpha, size, prob)
        else:
            from scipy.stats import poisson
            lower, upper = poisson.ppf(alpha, mean), poisson.ppf(1.0 - alpha, mean)
        frames.append(pl.DataFrame({
            "product_id": panel.products, "category": panel.categories.astype(str), "horizon_weeks": h,
            "forecast_units": mean,
            "median_units": predictive_median(mean, dispersion) if selected in DISTRIBUTIONAL else mean,
            "lower_units": lower, "upper_units": upper, "variance": variance,
            "price_assumed": np.exp(panel.log_price[:, last]),
        }))
    products = pl.concat(frames)
    start = pl.Series(panel.weeks[-1:].astype("datetime64[D]")).cast(pl.Date)[0]
    products = products.with_columns(
        week_start=pl.lit(start).dt.offset_by(pl.format("{}w", pl.col("horizon_weeks"))),
        level=pl.lit("product"), model=pl.lit(selected), status=pl.lit(status), status_reason=pl.lit(reason, pl.String),
    )
    z = float(norm.ppf(1.0 - alpha))
    categories = products.group_by("category", "horizon_weeks", "week_start").agg(
        pl.col("forecast_units").sum(), pl.col("variance").sum()).with_columns(
        median_units=pl.col("forecast_units"),
        lower_units=(pl.col("forecast_units") - z * pl.col("variance").sqrt()).clip(lower_bound=0.0),
        upper_units=pl.col("forecast_units") + z * pl.col("variance").sqrt(),
        product_id=pl.lit(None, pl.String), price_assumed=pl.lit(None, pl.Float64), level=pl.lit("category"),
        model=pl.lit(selected), status=pl.lit(status), status_reason=pl.lit(reason, pl.String),
    )
    out = pl.concat([products.select(list(FORECAST_SCHEMA)), categories.select(list(FORECAST_SCHEMA))])
    return (out.select([pl.col(c).cast(t) for c, t in FORECAST_SCHEMA.items()])
            .sort("level", "category", "product_id", "horizon_weeks", nulls_last=False))


def settings_from_vars(get) -> ForecastSettings:
    """ForecastSettings from the dbt vars (``get`` = dbt.config.get)."""
    return ForecastSettings(
        horizon_weeks=int(get("forecast_horizon_weeks")), origin_step_weeks=int(get("forecast_origin_step_weeks")),
        validation_origins=int(get("forecast_validation_origins")), test_origins=int(get("forecast_test_origins")),
        max_training_rows=int(get("forecast_max_training_rows")), boosting_iterations=int(get("forecast_boosting_iterations")),
        interval_level=float(get("forecast_interval_level")), seed=int(get("forecast_seed")),
        trailing_mean_weeks=int(get("forecast_trailing_mean_weeks")),
    )


def backtest_table(weekly: pl.DataFrame, settings: ForecastSettings) -> pl.DataFrame:
    """``ml_demand_forecast_evaluation`` alone (one degraded row when the history is too short)."""
    panel = build_panel(weekly)
    needed = SEASON + settings.horizon_weeks + settings.origin_step_weeks * (settings.validation_origins + settings.test_origins)
    if panel.units.shape[0] == 0 or panel.units.shape[1] < needed:
        return pl.DataFrame([{
            "split": "test", "model": "seasonal_naive", "point_forecast": "mean", "horizon_weeks": None,
            "n_origins": 0, "n_forecasts": 0, "actual_units": None, "forecast_units": None, "bias": None,
            "wape": None, "mase": None, "wape_vs_baseline": None, "wape_vs_baseline_low": None,
            "wape_vs_baseline_high": None, "is_selected": True,
            "nb_dispersion": None, "status": "degraded",
            "status_reason": f"{panel.units.shape[1]} complete weeks of sales history (need {needed} for the backtest)",
        }], schema=EVALUATION_SCHEMA)
    return backtest(panel, settings)
