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
from ecom_growth.simulator.timeline import Window


def marketing_spend_table(
    rng: np.random.Generator, config: SimulationConfig, window: Window, signup_days: np.ndarray, channel: np.ndarray,
) -> pa.Table:
    paid = [i for i, c in enumerate(config.channels) if c.is_paid]
    n_days = window.n_days
    day = np.minimum(signup_days.astype(np.int64), n_days - 1)
    counts = np.zeros((n_days, len(config.channels)), dtype=np.int64)
    np.add.at(counts, (day, channel.astype(np.int64)), 1)
    cac = np.array([config.channels[i].cac_per_signup for i in paid])
    sigma = config.marketing.noise_sigma
    noise = np.exp(sigma * rng.standard_normal((n_days, len(paid))) - sigma**2 / 2)
    spend_cents = np.rint(counts[:, paid] * cac * noise * 100.0).astype(np.int64)
    return pa.table(
        {
            "spend_date": pa.array(np.repeat(window.start_epoch_day + np.arange(n_days), len(paid)).astype(np.int32), type=pa.date32()),
            "channel": take_strings([config.channels[i].name for i in paid], np.tile(np.arange(len(paid)), n_days)),
            "spend": pa.array(spend_cents.reshape(-1) / 100.0, type=pa.float64()),
        }
    )
