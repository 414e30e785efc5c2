#!/usr/bin/env bash
# Benchmark every stage at SCALE customers (default 1,000,000): bench/results/bench_<SCALE>.{json,md}
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
source scripts/env.sh
python -m ecom_growth bench --customers "${1:-1000000}" --work "build/bench/${1:-1000000}" --out bench/results
