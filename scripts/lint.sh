#!/usr/bin/env bash
# Lint: ruff on the Python (library, dbt Python models, tests, scripts) and SQLFluff on the dbt
# SQL (models and singular tests, rendered offline by the jinja templater: see .sqlfluff).
# Rules: [tool.ruff] in pyproject.toml, .sqlfluff, .sqlfluffignore. Takes well under a minute.
#   scripts/lint.sh          check (exit 1 on any finding)
#   scripts/lint.sh --fix    apply the automatic fixes first, then check what is left
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

sql_paths=(models tests/data)
if [[ "${1:-}" == "--fix" ]]; then
    ruff check --fix --quiet . || true
    sqlfluff fix --processes 2 --quiet "${sql_paths[@]}" || true
fi

# Both linters always run, so one pass shows every finding.
status=0
echo "--> ruff"
ruff check --output-format concise . || status=1
echo "--> sqlfluff"
# (the warning filter hides multiprocessing's harmless semaphore notice at exit)
PYTHONWARNINGS="ignore::UserWarning" sqlfluff lint --processes 2 "${sql_paths[@]}" || status=1
exit "$status"
