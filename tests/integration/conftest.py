"""Planted-truth checks: run AFTER `dbt build` on simulated data (see scripts/test.sh).

The warehouse and the simulator's _truth.json are located through the same env vars the dbt
profile uses, so these tests read exactly what the build wrote.
"""

import json
import os
from pathlib import Path

import duckdb
import pytest


def _required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} must point at the built test data (run scripts/test.sh)")
    return value


@pytest.fixture(scope="session")
def _warehouse_connection():
    con = duckdb.connect(_required_env("ECOM_GROWTH_DB"), read_only=True)
    yield con
    con.close()


@pytest.fixture()
def warehouse(_warehouse_connection):
    # A cursor per test: DuckDB 2 refuses new work on a connection with an unfinished result.
    cursor = _warehouse_connection.cursor()
    yield cursor
    cursor.close()


@pytest.fixture(scope="session")
def truth() -> dict:
    return json.loads((Path(_required_env("ECOM_GROWTH_RAW_PATH")) / "_truth.json").read_text())


@pytest.fixture(scope="session")
def raw_path() -> Path:
    return Path(_required_env("ECOM_GROWTH_RAW_PATH"))
