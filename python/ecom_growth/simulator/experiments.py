"""A/B test: randomise signups in a window, lift first-order conversion in treatment.

Assignment happens at signup (assigned_at = signup_at). The treatment multiplies the
probability of ever placing a first completed order by (1 + relative_lift); the delay to the
first order is unchanged, so the lift in "converted within N days of assignment" equals the
planted lift up to the (small, identical in both arms) censoring by N and the window end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from ecom_growth.simulator.config import SimulationConfig
from ecom_growth.simulator.ids import FixedWidthIds, take_strings
from ecom_growth.simulator.timeline import Window

NOT_ASSIGNED, CONTROL, TREATMENT = -1, 0, 1
VARIANT_LABELS = ("control", "treatment")


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
