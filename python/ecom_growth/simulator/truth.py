"""``_truth.json``: every planted parameter as applied, plus realised counts.

The layout is a contract for tests elsewhere in the project (e.g. truth["bgnbd"]["r"],
truth["channels"]["paid_search"]["cac_per_converted_customer"]); keys are sorted and floats
are plain JSON numbers, so the file is byte-identical for the same arguments.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pyarrow as pa

from ecom_growth.simulator.catalogue import Catalogue
from ecom_growth.simulator.config import SimulationConfig
from ecom_growth.simulator.experiments import ExperimentWindow
from ecom_growth.simulator.ids import take_strings
from ecom_growth.simulator.reviews import REVIEW_PROCESS
from ecom_growth.simulator.streams import PERIOD_DAYS
from ecom_growth.simulator.timeline import Window

TRUTH_SCHEMA_VERSION = 1


@dataclass
class Realised:
    """Counts accumulated over chunks (what actually happened, for exact comparisons)."""

    n_channels: int
    signups: np.ndarray = field(init=False)
    converted: np.ndarray = field(init=False)
    spend: np.ndarray = field(init=False)
    experiment_assigned: np.ndarray = field(default_factory=lambda: np.zeros(2, np.int64))
    experiment_converted: np.ndarray = field(default_factory=lambda: np.zeros(2, np.int64))
    experiment_converted_within_metric_window: np.ndarray = field(default_factory=lambda: np.zeros(2, np.int64))
    orders_by_status: np.ndarray = field(default_factory=lambda: np.zeros(3, np.int64))
    completed_order_cents: int = 0
    repeat_customers: int = 0
    alive_at_end: int = 0
    customer_experiments: dict = field(default_factory=dict)  # experiments.accumulate_customer_metrics
    campaigns: dict = field(default_factory=dict)  # campaigns.accumulate_campaign_truth

    def __post_init__(self) -> None:
        self.signups = np.zeros(self.n_channels, np.int64)
        self.converted = np.zeros(self.n_channels, np.int64)
        self.spend = np.zeros(self.n_channels, np.float64)


def taste_factors_array(factors: np.ndarray) -> pa.FixedSizeListArray:
    """(n, k) float32 latent factors as one fixed-size-list column (row i = factors[i])."""
    factors = np.ascontiguousarray(factors, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(factors.reshape(-1)), factors.shape[1])


def truth_products_table(catalogue: Catalogue) -> pa.Table:
    """``_truth_products.parquet``: what the item choice reads per product (taste.choose_items)."""
    return pa.table({
        "product_id": catalogue.ids.array,
        "category": take_strings(catalogue.category_names, catalogue.category),
        "popularity": pa.array(catalogue.popularity, type=pa.float64()),
        "reference_price": pa.array(catalogue.price_cents[:, 0] / 100.0, type=pa.float64()),
        "taste_factors": taste_factors_array(catalogue.factors),
    })


def choice_model_truth(config: SimulationConfig, catalogue: Catalogue) -> dict:
    """The ``choice_model`` section of _truth.json: the item choice in words, plus the centroids."""
    return {
        "files": "_truth_customers.parquet taste_factors = U_u (float32[rank]); _truth_products.parquet: "
                 "product_id, category, popularity (Zipf weight, sums to 1), reference_price (list price at "
                 "the window start), taste_factors = V_i (float32[rank]); list prices over time in "
                 "_truth_prices.parquet",
        "category_centroids": {
            name: [float(x) for x in catalogue.centroids[c]] for c, name in enumerate(catalogue.category_names)
        },
        "describes": "each order line is one choice: draw taste.candidates candidates i.i.d., each a category "
                     "from softmax(category_temperature x U_u . M_c) (M_c = category_centroids) and then a "
                     "product of it with probability proportional to popularity x (list price at t / "
                     "reference_price) ** price_elasticity.by_category (normalised within the category "
                     "and price week); the line takes the "
                     "Gumbel-max of taste_scale x U_u . V_i + beta_price x log(list price at t / "
                     "reference_price) - budget_coefficient x |log(reference_price / per-line budget)| "
                     "among the candidates whose reference_price <= (1 + basket.max_overshoot) x the "
                     "remaining basket target (the cheapest candidate if none is). Per-line budget = "
                     "remaining target / remaining wanted lines, target = order_total / (1 - coupon), "
                     "wanted lines = 1 + Poisson(basket.extra_lines_mean). A line of a repeat order is "
                     "then replaced, with probability taste.rebuy_probability x the same price weight "
                     "over its category's popularity-weighted mean, by a uniform pick among "
                     "the products of the customer's first order. Browsing sessions view candidates of "
                     "the same choice without the budget term.",
    }


def _round(x: float, digits: int = 6) -> float:
    return float(round(float(x), digits))


def build_truth(
    config: SimulationConfig, window: Window, experiment: ExperimentWindow, realised: Realised,
    raw_rows: dict[str, int], clean_rows: dict[str, int], dirty: dict[str, dict[str, int]],
    files: dict[str, str], choice_model: dict,
) -> dict:
    bg, gg = config.bgnbd, config.gamma_gamma
    completed = int(realised.orders_by_status[0])
    channels = {}
    for i, c in enumerate(config.channels):
        signups, converted = int(realised.signups[i]), int(realised.converted[i])
        spend = _round(realised.spend[i], 2)
        channels[c.name] = {
            "share": c.share,
            "first_order_conversion_probability": c.conversion_probability,
            "first_order_delay_mean_days": c.first_order_delay_mean_days,
            "lambda_multiplier": c.lambda_multiplier,
            "logit_p_shift": c.logit_p_shift,
            "is_paid": c.is_paid,
            "cac_per_signup": c.cac_per_signup,
            "cac_per_converted_customer": (
                _round(c.cac_per_signup / c.conversion_probability) if c.is_paid else None
            ),
            "funnel": {
                "browse_sessions_mean": c.browse_sessions_mean,
                "add_to_cart_probability": c.add_to_cart_probability,
            },
            "realised": {
                "signups": signups,
                "converted": converted,
                "conversion_rate": _round(converted / signups) if signups else None,
                "spend": spend if c.is_paid else 0.0,
                "cac_per_signup": _round(spend / signups) if c.is_paid and signups else None,
                "cac_per_converted_customer": _round(spend / converted) if c.is_paid and converted else None,
            },
        }
    exp = config.experiment
    assigned = realised.experiment_assigned
    conv_window = realised.experiment_converted_within_metric_window
    experiments = {
        exp.experiment_id: {
            "experiment_id": exp.experiment_id,
            "window_start": experiment.start.isoformat(),
            "window_end": experiment.end.isoformat(),
            "window_was_moved_into_data": experiment.was_moved,
            "assignment": "customers whose signup_at falls in [window_start, window_end] (inclusive dates); "
                          "assigned_at = signup_at",
            "variants": ["control", "treatment"],
            "treatment_share": exp.treatment_share,
            "relative_lift": exp.relative_lift,
            "lift_acts_on": "probability of ever placing a first completed order (delay unchanged)",
            "metric": exp.metric,
            "metric_window_days": exp.metric_window_days,
            "realised": {
                variant: {
                    "assigned": int(assigned[i]),
                    "converted_in_data": int(realised.experiment_converted[i]),
                    "converted_within_metric_window": int(conv_window[i]),
                    "conversion_rate_within_metric_window": _round(conv_window[i] / assigned[i]) if assigned[i] else None,
                }
                for i, variant in enumerate(("control", "treatment"))
            },
        }
    }
    process = "MBG/NBD" if config.dropout_after_first else "BG/NBD"
    taste = dataclasses.asdict(config.taste)
    taste["categories"] = [c.name for c in config.categories]
    return {
        "schema_version": TRUTH_SCHEMA_VERSION,
        "generator": "ecom_growth.simulator",
        "seed": config.seed,
        "effects": config.effects,
        "args": {
            "customers": config.customers, "seed": config.seed, "start": config.start.isoformat(),
            "end": config.end.isoformat(), "dirty_rate": config.dirty_rate, "effects": config.effects,
            "products": config.products, "dropout_after_first": config.dropout_after_first,
        },
        "purchase_process": {
            "name": process,
            "reference": "Batislam, Denizel & Filiztekin (2007)" if config.dropout_after_first
                         else "Fader, Hardie & Lee (2005)",
            "parameters": {"r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b},
            "dropout_after_first": config.dropout_after_first,
            "repeats_before_death": "Geometric(p) - 1 on 0, 1, ... (may die right after the first purchase)"
                                    if config.dropout_after_first else "Geometric(p) on 1, 2, ...",
            "scenario_flag": "--dropout-after-first",
        },
        "causality": {
            "rule": "every stream at time t is drawn from latent state and what happened before t; a run "
                    "with the same arguments and an earlier end yields exactly this run's rows before that "
                    "end (products.list_price is the price at the end date)",
            "period_days": PERIOD_DAYS,
            "customers_argument": "the number of signups in the first signups.scale_days days from the start; "
                                  "the same intensity continues after them",
            "ids": "customer C + number by signup rank; order O + customer number + 4-digit rank of the "
                   "customer's order; session S + customer number + 4-digit rank of the customer's session "
                   "(by first event); event E + session number + 3-digit rank in the session; review R + "
                   "customer number + 4-digit rank of the customer's review",
            "dirty_rows": "not prefix-stable: their number scales with the clean rows; they never change "
                          "clean rows, which come first in each file",
        },
        "window": {
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
            "start_at": f"{window.start.isoformat()}T00:00:00",
            "end_at_exclusive": f"{(window.end + timedelta(days=1)).isoformat()}T00:00:00",
            "length_days": window.n_days,
            "note": "end is inclusive: every clean timestamp t satisfies start_at <= t < end_at_exclusive",
        },
        "bgnbd": {
            "r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b, "time_unit": "day",
            "process": process,
            "dropout_after_first": config.dropout_after_first,
            "describes": "completed orders only. t = 0 at the customer's first completed order; "
                         "repeat purchases Poisson(lambda); death with probability p right after each "
                         + ("purchase, the first included (MBG/NBD)" if config.dropout_after_first else
                            "repeat purchase (never after the first)")
                         + "; T = end_at_exclusive - first order.",
            "exact_in_calendar_time": config.effects == "none",
            "time": "calendar days" if config.effects == "none" else
                    "operational days of the purchase clock (see seasonality); plus channel and satisfaction effects",
        },
        "gamma_gamma": {
            "p": gg.p, "q": gg.q, "gamma": gg.gamma, "mean_order_value": _round(gg.mean_order_value),
            "describes": "order_total of every order: nu_customer ~ Gamma(q, rate=gamma), "
                         "order_total ~ Gamma(p, rate=nu) rounded to cents, independent of purchase timing",
        },
        "order_status": {
            "cancelled_per_completed": config.status.cancelled_per_completed,
            "returned_per_completed": config.status.returned_per_completed,
            "describes": "after the first (completed) order, orders arrive at rate lambda x (1 + c + r) until "
                         "death; each is completed / cancelled / returned with probabilities 1 : c : r, "
                         "decided at order time, so the completed ones are exactly the BG/NBD process and "
                         "cancelled (returned) orders are c (r) per completed repeat order in expectation",
        },
        "channels": channels,
        "conversion": {
            "definition": "a customer converts when their first completed order falls inside the window; "
                          "P(ever converts) = first_order_conversion_probability (x (1 + lift) in treatment), "
                          "delay ~ Exponential(first_order_delay_mean_days)",
        },
        "marketing": {
            "noise_sigma": config.marketing.noise_sigma,
            "describes": "daily spend per paid channel = signups that day x cac_per_signup x "
                         "exp(sigma Z - sigma^2/2) (mean one); cac_per_converted_customer = "
                         "cac_per_signup / first_order_conversion_probability",
        },
        "satisfaction": {
            "distribution": "normal(0, 1) per customer",
            "dropout_logit_per_sd": config.satisfaction.dropout_logit_per_sd,
            "rating_noise_sd": config.satisfaction.rating_noise_sd,
            "rating_cutpoints": list(config.satisfaction.rating_cutpoints),
            "describes": "logit(p) += dropout_logit_per_sd x satisfaction; rating = 1 + #(cutpoints < "
                         "satisfaction + N(0, rating_noise_sd))",
        },
        "seasonality": {
            "purchase_yearly_amplitude": config.seasonality.purchase_yearly_amplitude,
            "purchase_peak_day_of_year": config.seasonality.purchase_peak_day_of_year,
            "describes": "purchase intensity x (1 + A cos(2 pi (day_of_year - peak) / 365.25)), applied as a "
                         "time change of the BG/NBD process (day_of_year 0 = 1 January)",
        },
        "signups": dataclasses.asdict(config.signups),
        "taste": taste,
        "choice_model": choice_model,
        "price_elasticity": {
            "beta_price": config.prices.beta_price,
            "changes_per_year": config.prices.changes_per_year,
            "change_log_sd": config.prices.change_log_sd,
            "by_category": {c.name: e for c, e in zip(config.categories, config.prices.elasticities, strict=True)},
            "estimand": "own-price elasticity of a product's expected units: E[units_i,t] = A_i x B_category,t x "
                        "price_i(t) ** e_category, i.e. the coefficient of log price in a Poisson model of "
                        "product x week units with product and category x week fixed effects (PPML)",
            "promotions_per_year": config.prices.promotions_per_year,
            "promotion_two_week_share": config.prices.promotion_two_week_share,
            "promotion_discount_range": [config.prices.promotion_discount_min, config.prices.promotion_discount_max],
            "cost_shares": {c.name: x for c, x in zip(config.categories, config.prices.cost_shares, strict=True)},
            "cost_log_sd": config.prices.cost_log_sd,
            "describes": "list prices change at week starts (weeks counted from the window start), a Poisson "
                         "process of changes_per_year per product with log-normal steps, plus temporary "
                         "promotions (Poisson promotions_per_year per product, 1 week or 2 with "
                         "promotion_two_week_share, discount uniform in the range; price_history.is_promotion). "
                         "A product's weight in the within-category candidate draw and in favourite re-buys "
                         "is popularity x (price(t) / price at window start) ** e_category, normalised within "
                         "the category and week (substitution to category peers); choice score += beta_price x "
                         "log(price ratio) among the candidates on top (0 = off). unit_cost (product_costs) = "
                         "window-start price x cost_share x exp(cost_log_sd Z), constant; history in "
                         "price_history.parquet and _truth_prices.parquet",
        },
        "basket": dataclasses.asdict(config.basket),
        "funnel": {
            **dataclasses.asdict(config.funnel),
            "describes": "every order (any status) comes from a session: views of its products and of "
                         "1 + Poisson other candidates, add_to_cart of its products, one purchase event per "
                         "order line at ordered_at; browse-only sessions: one at signup, Poisson(channel browse_sessions_mean) "
                         "uniform over the browse_horizon_days after signup, and from the first order a Poisson "
                         "process of rate browse_sessions_per_order x lambda (seasonal, like purchases) until "
                         "browse_horizon_days after death; none is derived from realised orders. Each views "
                         "1 + Poisson(browse_focus_mean) focused products and adds each to the cart with the "
                         "channel's add_to_cart_probability",
        },
        "reviews": {**dataclasses.asdict(config.reviews), "describes": REVIEW_PROCESS},
        "experiments": experiments,
        "realised": {
            "customers": int(realised.signups.sum()),
            "converted_customers": int(realised.converted.sum()),
            "completed_orders": completed,
            "cancelled_orders": int(realised.orders_by_status[1]),
            "returned_orders": int(realised.orders_by_status[2]),
            "mean_completed_order_value": _round(realised.completed_order_cents / 100.0 / completed, 4) if completed else None,
            "customers_with_repeat_orders": realised.repeat_customers,
            "converted_alive_at_end": realised.alive_at_end,
        },
        "raw_rows": raw_rows,
        "clean_rows": clean_rows,
        "dirty": dirty,
        "dirty_rate": config.dirty_rate,
        "dirty_rule": "per table and class, round(dirty_rate x clean_rows) rows (halves up), one defect each, "
                      "appended after the clean rows; classes match staging's rejected_reason",
        "files": files,
    }
