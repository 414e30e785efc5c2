"""Keyed random streams: the simulator's answer to "shortening the window must not shift draws".

Every draw comes from a generator keyed by (seed, purpose, entity block, period), never from a
stream that runs across the whole window. A run whose window ends earlier simply stops asking
for later periods, so every draw it does make is the same draw the longer run makes. Blocks
of entities are fixed-size (``CHUNK`` customers, whole periods), and per-entity values are
drawn for every slot of a block even when the run ends before the slot exists, so the stream
position of an entity never depends on how many other entities the window contains.
"""

from __future__ import annotations

import numpy as np

PERIOD_DAYS = 28  # the simulation steps in 4-week periods (whole price weeks) from the window start
LOOKAHEAD_DAYS = 1  # periods are simulated until this far past the end (sessions start before their order)

# Purposes (part of the key; never renumber: that would change every dataset).
SIGNUP_DAYS, SIGNUP_EXTRA, SIGNUP_TIMES, ATTRIBUTES, LATENT, EMAILS, PERIOD, MARKETING, PRICES = range(9)


def stream(seed: int, purpose: int, *key: int) -> np.random.Generator:
    """The generator for (seed, purpose, *key): independent of every other key."""
    return np.random.default_rng(np.random.SeedSequence([seed, purpose, *key]))


def n_periods(window_days: float) -> int:
    """Periods to simulate so that every event before the window end is generated."""
    return int(np.ceil((window_days + LOOKAHEAD_DAYS) / PERIOD_DAYS))
