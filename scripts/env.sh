# Sourced by the scripts: the environment every dbt / Python stage runs with.
# implicit's ALS is up to 10x slower when BLAS runs its own thread pool inside implicit's threads.
# OpenMP is NOT capped here: implicit's own threads are OpenMP and should use every core;
# scikit-learn fits cap their OpenMP threads themselves (threadpoolctl) where it matters.
export OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
export DBT_SEND_ANONYMOUS_USAGE_STATS=false DBT_PROFILES_DIR="${DBT_PROFILES_DIR:-$PWD}"
export PATH="$PWD/.venv/bin:$PATH"
