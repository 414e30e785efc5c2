#!/usr/bin/env bash
# The whole test suite: Python unit tests, then dbt build (every data test and unit test) on a
# simulated dataset with 2% dirty rows, then the planted-truth checks against that warehouse.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
source scripts/env.sh

work="${ECOM_GROWTH_TEST_DIR:-build/test}"
rm -rf "$work" && mkdir -p "$work"
export ECOM_GROWTH_RAW_PATH="$work/raw" ECOM_GROWTH_DB="$work/warehouse.duckdb"
export DBT_TARGET_PATH="$work/target" DBT_LOG_PATH="$work/logs"

echo "==> [0/4] lint: ruff and sqlfluff (scripts/lint.sh)"
scripts/lint.sh

echo "==> [1/4] python unit tests"
python -m pytest tests/python -q

echo "==> [2/4] simulated data: ${TEST_CUSTOMERS:-50000} customers, 2% dirty rows"
python -m ecom_growth generate --customers "${TEST_CUSTOMERS:-50000}" --seed 7 --dirty-rate 0.02 --out "$ECOM_GROWTH_RAW_PATH"

echo "==> [3/4] dbt build (models + data tests + unit tests)"
dbt build --fail-fast

echo "==> [4/4] planted-truth checks on the built warehouse (+ hardening: own small builds, fuzzed raw shops)"
export FUZZ_EXAMPLES="${FUZZ_EXAMPLES:-40}"
python -m pytest tests/integration -q
