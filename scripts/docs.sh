#!/usr/bin/env bash
# The static dbt docs site: every model, column description, test, lineage and the exposures
# (the growth report, the CRM audiences) in one HTML file that opens without a server.
# Column types come from the warehouse when it has been built (make demo); without one the
# site still has every description and the lineage (generated from the demo data's raw tables).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
source scripts/env.sh

export ECOM_GROWTH_RAW_PATH="${ECOM_GROWTH_RAW_PATH:-data/raw}"
export ECOM_GROWTH_DB="${ECOM_GROWTH_DB:-warehouse/ecom_growth.duckdb}"
mkdir -p "$(dirname "$ECOM_GROWTH_DB")"
target="${DBT_TARGET_PATH:-target}"

# Compiling needs the raw tables (their columns) and the seeds (the next-best-action rules
# compile from one): on a fresh clone, generate the demo data and load the seeds first.
if [ ! -f "$ECOM_GROWTH_RAW_PATH/orders.parquet" ] && [ ! -f "$ECOM_GROWTH_RAW_PATH/orders.csv" ]; then
  python -m ecom_growth generate --customers "${CUSTOMERS:-50000}" --seed 42 --out "$ECOM_GROWTH_RAW_PATH" >/dev/null
fi
[ -f "$ECOM_GROWTH_DB" ] || dbt seed --quiet
dbt docs generate --static --quiet
echo "dbt docs (open by double-click): $PWD/$target/static_index.html"
