"""A/B tests: one on new signups (conversion) and experiments on existing customers.

Signup experiment: randomise signups in a window, lift first-order conversion in treatment.

Assignment happens at signup (assigned_at = signup_at). The treatment multiplies the
probability of ever placing a first completed order by (1 + relative_lift); the delay to the
first order is unchanged, so the lift in "converted within N days of assignment" equals the
planted lift up to the (small, identical in both arms) censoring by N and the window end.

Experiments on existing customers (config.customer_experiments; one is an A/A test): each slot
gets an enrolment day uniform in [start, start + enrolment_days), is enrolled with a fixed
probability if its first order lies before that day (state known at enrolment), and is
randomised into an arm. During metric_window_days after enrolment the treatment ADDS a Poisson
process of completed orders at rate lambda x completed_rate_lift and of returned orders at rate
lambda x r x returned_rate_lift (r = returned per completed), in the purchase clock's time, while
the customer is alive. The BG/NBD process itself (and so death) is identical in both arms, so the
expected relative lift of completed orders and revenue per user in the window is exactly
completed_rate_lift, average order value is unchanged (extra orders draw from the same
Gamma-Gamma), and returned orders per user rise by returned_rate_lift. The same metric in the
window before enrolment is a pre-period covariate (CUPED), correlated with the outcome through
the customer's lambda, nu and being alive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from ecom_growth.simulator.config import CustomerExperimentConfig, SimulationConfig
from ecom_growth.simulator.ids import FixedWidthIds, take_strings
from ecom_growth.simulator.purchases import COMPLETED, RETURNED, Orders, Traits
from ecom_growth.simulator.timeline import PurchaseClock, Window

NOT_ASSIGNED, CONTROL, TREATMENT = -1, 0, 1
VARIANT_LABELS = ("control", "treatment")
# Stream purposes of this module (streams.stream keys); far from streams.py's own range so other
# modules can append theirs there. Never renumber.
CUSTOMER_EXPERIMENTS, CUSTOMER_EXPERIMENT_ORDERS = 31, 32


@dataclass(frozen=True)
class ExperimentWindow:
    start: date
    end: date  # inclusive
    start_days: float  # days since window start
    end_days_exclusive: float
    was_moved: bool  # the configured window did not overlap the scale horizon


def experiment_window(config: SimulationConfig, window: Window) -> ExperimentWindow:
    """The configured window; if it misses the scale horizon (start + signups.scale_days), 60-77%
    of that horizon. Decided from the start only: a shorter window keeps the same experiment."""
    scale = config.signups.scale_days
    horizon_end = window.start + timedelta(days=scale - 1)
    start, end = config.experiment.window_start, config.experiment.window_end
    moved = end < window.start or start > horizon_end
    if moved:
        start = window.start + timedelta(days=int(0.60 * scale))
        end = max(start, window.start + timedelta(days=int(0.77 * scale)))
    return ExperimentWindow(
        start=start, end=end,
        start_days=float((start - window.start).days),
        end_days_exclusive=float((end - window.start).days + 1),
        was_moved=moved,
    )


def assign_variants(
    rng: np.random.Generator, config: SimulationConfig, exp: ExperimentWindow, signup_days: np.ndarray, slots: int,
) -> np.ndarray:
    """int8 per customer: NOT_ASSIGNED, CONTROL or TREATMENT (one draw per slot of the chunk)."""
    eligible = (signup_days >= exp.start_days) & (signup_days < exp.end_days_exclusive)
    treated = rng.random(slots)[: signup_days.size] < config.experiment.treatment_share
    return np.where(eligible, np.where(treated, TREATMENT, CONTROL), NOT_ASSIGNED).astype(np.int8)


def conversion_multiplier(config: SimulationConfig, variant: np.ndarray) -> np.ndarray:
    return np.where(variant == TREATMENT, 1.0 + config.experiment.relative_lift, 1.0)


def assignments_table(
    config: SimulationConfig, window: Window, customer_ids: FixedWidthIds, variant: np.ndarray, signup_days: np.ndarray,
) -> pa.Table:
    assigned = np.flatnonzero(variant != NOT_ASSIGNED)
    return pa.table(
        {
            "experiment_id": take_strings([config.experiment.experiment_id], np.zeros(assigned.size, np.int64)),
            "customer_id": customer_ids.take(assigned),
            "variant": take_strings(VARIANT_LABELS, variant[assigned]),
            "assigned_at": pa.array(window.to_us(signup_days[assigned]), type=pa.timestamp("us")),
        }
    )


def customer_experiment_start_days(config: SimulationConfig, experiment: CustomerExperimentConfig,
                                   window: Window) -> float:
    """Enrolment start in days since the window start. A start with no pre-period inside the
    window, or past the signup scale horizon, moves to ``fallback_fraction`` of that horizon;
    decided from the start only, so a shorter window keeps the same experiment."""
    scale = config.signups.scale_days
    days = (experiment.start - window.start).days
    if days < experiment.metric_window_days or days > scale - experiment.enrolment_days:
        days = int(experiment.fallback_fraction * scale)
    return float(days)


@dataclass
class CustomerArms:
    """Per experiment (rows) and chunk customer (columns): arm and enrolment time."""

    arm: np.ndarray  # int8 (experiments x customers): NOT_ASSIGNED, CONTROL or TREATMENT
    assigned_days: np.ndarray  # float (experiments x customers): enrolment time, days since window start

    @property
    def in_any(self) -> np.ndarray:
        return (self.arm != NOT_ASSIGNED).any(axis=0) if self.arm.size else np.zeros(self.arm.shape[1], bool)


def assign_customer_experiments(
    rng: np.random.Generator, config: SimulationConfig, window: Window, first_days: np.ndarray, slots: int,
) -> CustomerArms:
    """Enrol and randomise the chunk's customers (``first_days`` per customer, a prefix of the
    ``slots``): three fixed-size draws per slot and experiment, so positions never shift."""
    n = first_days.size
    experiments = config.customer_experiments
    arm = np.full((len(experiments), n), NOT_ASSIGNED, dtype=np.int8)
    assigned = np.zeros((len(experiments), n))
    for e, experiment in enumerate(experiments):
        offset = rng.random(slots)[:n] * experiment.enrolment_days
        enrol = rng.random(slots)[:n] < experiment.enrolment_probability
        treated = rng.random(slots)[:n] < experiment.treatment_share
        assigned[e] = customer_experiment_start_days(config, experiment, window) + offset
        with np.errstate(invalid="ignore"):
            eligible = enrol & (first_days < assigned[e])  # nan (never converts) -> not eligible
        arm[e] = np.where(eligible, np.where(treated, TREATMENT, CONTROL), NOT_ASSIGNED)
    return CustomerArms(arm=arm, assigned_days=assigned)


def period_treatment_orders(
    rng: np.random.Generator, config: SimulationConfig, clock: PurchaseClock, traits: Traits, arms: CustomerArms,
    death_days: np.ndarray, lo: float, hi: float, n_active: int,
) -> Orders:
    """Orders the treatments add in [lo, hi) (module docstring); ``death_days`` already holds
    deaths up to ``hi``, so an added order exists only while its customer is alive."""
    returned_rate = config.status.returned_per_completed
    parts = []
    for e, experiment in enumerate(config.customer_experiments):
        for status, lift in ((COMPLETED, experiment.completed_rate_lift),
                             (RETURNED, returned_rate * experiment.returned_rate_lift)):
            if lift <= 0:
                continue
            start = arms.assigned_days[e, :n_active]
            stretch_lo = np.maximum(start, lo)
            stretch_hi = np.minimum(start + experiment.metric_window_days, hi)
            who = np.flatnonzero((arms.arm[e, :n_active] == TREATMENT) & (stretch_hi > stretch_lo))
            s_lo, s_hi = clock.operational(stretch_lo[who]), clock.operational(stretch_hi[who])
            count = rng.poisson(traits.lam[who] * lift * (s_hi - s_lo))
            segment = np.repeat(np.arange(who.size), count)
            days = clock.calendar(s_lo[segment] + rng.random(segment.size) * (s_hi - s_lo)[segment])
            owner = who[segment]
            with np.errstate(invalid="ignore"):
                alive = ~(death_days[owner] <= days)
            parts.append((owner[alive], days[alive], np.full(int(alive.sum()), status, np.int8)))
    if not parts:
        return Orders(*(np.zeros(0, t) for t in (np.int64, np.float64, np.int8, np.int64, bool)))
    customer = np.concatenate([p[0] for p in parts]).astype(np.int64)
    value = rng.gamma(config.gamma_gamma.p, 1.0, customer.size) / traits.nu[customer]
    return Orders(
        customer=customer,
        days=np.concatenate([p[1] for p in parts]),
        status=np.concatenate([p[2] for p in parts]),
        total_cents=np.maximum(np.rint(value * 100.0).astype(np.int64), 1),
        is_first=np.zeros(customer.size, bool),
    )


def customer_assignments_table(
    config: SimulationConfig, window: Window, customer_ids: FixedWidthIds, arms: CustomerArms, end_days: float,
) -> pa.Table:
    """experiment_assignments rows of the customer experiments enrolled before ``end_days``."""
    tables = []
    for e, experiment in enumerate(config.customer_experiments):
        rows = np.flatnonzero((arms.arm[e] != NOT_ASSIGNED) & (arms.assigned_days[e] < end_days))
        tables.append(pa.table({
            "experiment_id": take_strings([experiment.experiment_id], np.zeros(rows.size, np.int64)),
            "customer_id": customer_ids.take(rows),
            "variant": take_strings(VARIANT_LABELS, arms.arm[e, rows]),
            "assigned_at": pa.array(window.to_us(arms.assigned_days[e, rows]), type=pa.timestamp("us")),
        }))
    return pa.concat_tables(tables) if tables else None


CUSTOMER_METRICS = ("completed_orders", "revenue", "returned_orders")


def accumulate_customer_metrics(
    sums: dict, config: SimulationConfig, arms: CustomerArms, customer: np.ndarray, days: np.ndarray,
    status: np.ndarray, cents: np.ndarray, end_days: float,
) -> None:
    """Add a chunk's per-arm moments of (pre-period, metric window) values to ``sums``.

    Only customers whose whole metric window lies inside the data count (as in the warehouse).
    Per (experiment, arm, metric): n, sum x, sum y, sum x^2, sum y^2, sum xy (x = pre, y = post).
    """
    n = arms.arm.shape[1]
    for e, experiment in enumerate(config.customer_experiments):
        start = arms.assigned_days[e]
        window = experiment.metric_window_days
        since = days - start[customer]
        pre, post = (since >= -window) & (since < 0), (since >= 0) & (since <= window)
        values = {
            "completed_orders": (status == COMPLETED).astype(np.float64),
            "revenue": np.where(status == COMPLETED, cents / 100.0, 0.0),
            "returned_orders": (status == RETURNED).astype(np.float64),
        }
        for arm_code, label in enumerate(VARIANT_LABELS):
            member = (arms.arm[e] == arm_code) & (start + window <= end_days)
            for metric, value in values.items():
                x = np.bincount(customer[pre], value[pre], minlength=n)[member]
                y = np.bincount(customer[post], value[post], minlength=n)[member]
                moments = np.array([x.size, x.sum(), y.sum(), (x * x).sum(), (y * y).sum(), (x * y).sum()])
                key = (experiment.experiment_id, label, metric)
                sums[key] = sums.get(key, np.zeros(6)) + moments


def customer_experiments_truth(config: SimulationConfig, window: Window, sums: dict) -> dict:
    """_truth.json section: planted lifts per metric and the realised pre/post moments."""
    out = {}
    for experiment in config.customer_experiments:
        realised = {}
        for label in VARIANT_LABELS:
            realised[label] = {}
            for metric in CUSTOMER_METRICS:
                n, sx, sy, sxx, syy, sxy = sums.get((experiment.experiment_id, label, metric), np.zeros(6))
                cov = sxy / n - sx * sy / n**2 if n else np.nan
                var_x, var_y = (sxx / n - (sx / n) ** 2, syy / n - (sy / n) ** 2) if n else (np.nan, np.nan)
                corr = cov / np.sqrt(var_x * var_y) if n and var_x > 0 and var_y > 0 else None
                realised[label][metric] = {
                    "users_with_full_window": int(n),
                    "mean_pre_period": round(float(sx / n), 6) if n else None,
                    "mean_metric_window": round(float(sy / n), 6) if n else None,
                    "pre_post_correlation": round(float(corr), 6) if corr is not None else None,
                }
        start = window.start + timedelta(days=int(customer_experiment_start_days(config, experiment, window)))
        lift = experiment.completed_rate_lift
        out[experiment.experiment_id] = {
            "experiment_id": experiment.experiment_id,
            "population": "customers with a completed first order before their enrolment time; each enrolled "
                          "with enrolment_probability, randomised with treatment_share",
            "enrolment_start": start.isoformat(),
            "enrolment_days": experiment.enrolment_days,
            "enrolment_probability": experiment.enrolment_probability,
            "treatment_share": experiment.treatment_share,
            "metric_window_days": experiment.metric_window_days,
            "pre_period_days": experiment.metric_window_days,
            "is_aa_test": lift == 0 and experiment.returned_rate_lift == 0,
            "planted_relative_lift": {
                "orders_per_user": lift,
                "revenue_per_user": lift,
                "average_order_value": 0.0,
                "returned_orders_per_user": experiment.returned_rate_lift,
            },
            "lift_acts_on": "added Poisson processes of completed (rate lambda x lift) and returned orders "
                            "during the metric window while alive; BG/NBD process and death unchanged",
            "realised": realised,
        }
    return out
