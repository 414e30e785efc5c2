"""Daily marketing spend per paid channel, planted as a cost per signup.

spend(day, channel) = signups(day, channel) x cac_per_signup x exp(sigma Z - sigma^2 / 2):
mean-one lognormal noise, so total spend / signups recovers cac_per_signup and
total spend / converted customers recovers cac_per_signup / conversion probability.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ecom_growth.simulator.config import SimulationConfig
from ecom_growth.simulator.ids import take_strings
from ecom_growth.simulator.streams import MARKETING, PERIOD_DAYS, stream
from ecom_growth.simulator.timeline import Window


def marketing_spend_table(
    seed: int, config: SimulationConfig, window: Window, signup_days: np.ndarray, channel: np.ndarray,
) -> pa.Table:
    """One row per paid channel and day of the window; the noise of each 4-week period comes
    from its own keyed stream, so a day's spend does not depend on the window end."""
    paid = [i for i, c in enumerate(config.channels) if c.is_paid]
    n_days = window.n_days
    inside = signup_days < n_days
    counts = np.zeros((n_days, len(config.channels)), dtype=np.int64)
    np.add.at(counts, (signup_days[inside].astype(np.int64), channel[inside].astype(np.int64)), 1)
    cac = np.array([config.channels[i].cac_per_signup for i in paid])
    sigma = config.marketing.noise_sigma
    z = np.concatenate([stream(seed, MARKETING, period).standard_normal((PERIOD_DAYS, len(paid)))
                        for period in range(-(-n_days // PERIOD_DAYS))])[:n_days]
    noise = np.exp(sigma * z - sigma**2 / 2)
    spend_cents = np.rint(counts[:, paid] * cac * noise * 100.0).astype(np.int64)
    return pa.table(
        {
            "spend_date": pa.array(np.repeat(window.start_epoch_day + np.arange(n_days), len(paid)).astype(np.int32), type=pa.date32()),
            "channel": take_strings([config.channels[i].name for i in paid], np.tile(np.arange(len(paid)), n_days)),
            "spend": pa.array(spend_cents.reshape(-1) / 100.0, type=pa.float64()),
        }
    )
