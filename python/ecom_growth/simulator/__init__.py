"""Planted-truth shop simulator: raw exports whose generating process is known.

``generate(customers, seed, out, start, end, dirty_rate, effects, products)`` writes one
Parquet file per raw table (the raw data contract in ``writer.SCHEMAS``) plus ``_truth.json``
(every planted parameter and realised count) and returns the truth dict. See /work/shared
SIMULATOR.md for the design; each module documents one part of the process.
"""

from ecom_growth.simulator.config import (
    SimulationConfig,
    build_config,
    default_products,
)
from ecom_growth.simulator.core import (
    PRICE_HISTORY_FILE,
    PRODUCT_COSTS_FILE,
    TRUTH_CUSTOMERS_FILE,
    TRUTH_FILE,
    TRUTH_PRICES_FILE,
    TRUTH_REVIEWS_FILE,
    TRUTH_TICKETS_FILE,
    generate,
    simulate,
)
from ecom_growth.simulator.dirty import CLASSES as DIRTY_CLASSES
from ecom_growth.simulator.writer import SCHEMAS, TABLES, UNPARSEABLE_COLUMN

__all__ = [
    "PRICE_HISTORY_FILE",
    "PRODUCT_COSTS_FILE",
    "DIRTY_CLASSES",
    "SCHEMAS",
    "TABLES",
    "TRUTH_CUSTOMERS_FILE",
    "TRUTH_FILE",
    "TRUTH_PRICES_FILE",
    "TRUTH_REVIEWS_FILE",
    "TRUTH_TICKETS_FILE",
    "UNPARSEABLE_COLUMN",
    "SimulationConfig",
    "build_config",
    "default_products",
    "generate",
    "simulate",
]
