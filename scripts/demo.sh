#!/usr/bin/env bash
# The main job on the embedded default: demo data (50k simulated customers) -> dbt build ->
# Parquet exports -> a short summary -> the HTML growth report (reports/growth_report.html).
# Re-running reuses the generated data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
source scripts/env.sh

export ECOM_GROWTH_RAW_PATH="${ECOM_GROWTH_RAW_PATH:-data/raw}"
export ECOM_GROWTH_DB="${ECOM_GROWTH_DB:-warehouse/ecom_growth.duckdb}"
mkdir -p "$(dirname "$ECOM_GROWTH_DB")"

if [ ! -f "$ECOM_GROWTH_RAW_PATH/orders.parquet" ] && [ ! -f "$ECOM_GROWTH_RAW_PATH/orders.csv" ]; then
  echo "==> generating demo data (50k customers) into $ECOM_GROWTH_RAW_PATH"
  python -m ecom_growth generate --customers "${CUSTOMERS:-50000}" --seed 42 --out "$ECOM_GROWTH_RAW_PATH"
fi

echo "==> dbt build"
dbt build --fail-fast
python -m ecom_growth export --db "$ECOM_GROWTH_DB" --out exports
python -m ecom_growth summary --db "$ECOM_GROWTH_DB"
python -m ecom_growth report --db "$ECOM_GROWTH_DB" --out reports
