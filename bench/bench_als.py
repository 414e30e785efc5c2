"""Benchmark: the recommendation pipeline against calling implicit directly.

(a) direct:   implicit ALS fit + batch recommend (N, filter already purchased) for every user
              + similar_items for every item, starting from a ready CSR confidence matrix (the
              least any ALS job must do).
(b) pipeline: the project's ALS stage from a polars interactions frame: item_factor_table (id
              mapping + BM25 confidence + fit, the stored model) + user_factor_table (exact user
              solve against the stored items) + serve_recommendations (top-N from the tables,
              filtering, top-up, string ids) + similar_products_table.
Both fit the same matrix with the same hyperparameters and seed. Each runs in its own child
process so its peak RSS (ru_maxrss) is its own; reading the input is not timed. The project's
bar is (b) <= 1.3 x (a) in wall time.

    OPENBLAS_NUM_THREADS=1 python bench/bench_als.py --users 1000000 --items 40000 --purchases-per-user 5
    python bench/bench_als.py --interactions path/to/interactions.parquet

Prints one JSON document. Scratch files go to --workdir (default: a temporary directory).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def stage_direct(args: argparse.Namespace) -> dict:
    import numpy as np
    import scipy.sparse as sp
    from implicit.cpu.als import AlternatingLeastSquares

    data = np.load(Path(args.workdir) / "confidence.npz")
    matrix = sp.csr_matrix((data["data"], data["indices"], data["indptr"]), shape=tuple(data["shape"]))
    bought = sp.csr_matrix(
        (np.ones(data["bought_indices"].size, dtype=np.float32), data["bought_indices"], data["bought_indptr"]),
        shape=tuple(data["shape"]),
    )
    rss_loaded = peak_rss_mb()
    cpu = cpu_seconds()
    start = time.perf_counter()
    model = AlternatingLeastSquares(
        factors=args.factors,
        regularization=args.regularization,
        iterations=args.iterations,
        random_state=args.seed,
    )
    model.fit(matrix, show_progress=False)
    fitted = time.perf_counter()
    users = np.arange(matrix.shape[0])
    ids, scores = model.recommend(users, bought, N=args.n, filter_already_liked_items=True)
    recommended = time.perf_counter()
    model.similar_items(np.arange(matrix.shape[1]), N=args.n + 1)
    done = time.perf_counter()
    return {
        "fit_seconds": round(fitted - start, 2),
        "recommend_seconds": round(recommended - fitted, 2),
        "similar_items_seconds": round(done - recommended, 2),
        "wall_seconds": round(done - start, 2),
        "cpu_seconds": round(cpu_seconds() - cpu, 2),
        "peak_rss_mb": peak_rss_mb(),
        "peak_rss_mb_after_loading_input": rss_loaded,
        "rows": int((scores > -1e37).sum()),
    }


def stage_pipeline(args: argparse.Namespace) -> dict:
    """What the dbt models ml_als_item_factors + ml_als_user_factors + ml_recommendations +
    ml_similar_products do, minus the warehouse I/O: fit once into factor tables, then score
    top-N and similar products from the tables."""
    import json as _json

    import polars as pl
    from ecom_growth.recommend.serve import (
        serve_recommendations,
        similar_products_table,
    )
    from ecom_growth.recommend.store import item_factor_table, user_factor_table

    interactions = pl.read_parquet(Path(args.workdir) / "interactions.parquet")
    params = {"weighting": "bm25", "alpha": 1.0, "bm25_k1": 100.0, "bm25_b": 0.8, "factors": args.factors,
              "regularization": args.regularization, "iterations": args.iterations, "random_state": args.seed}
    evaluation = pl.DataFrame({"split": ["validation"], "model": ["als"], "is_served": [True],
                               "is_selected": [True], "hyperparameters": [_json.dumps(params)]})
    products = interactions.select("product_id").unique().with_columns(category=pl.lit("all"))
    rss_loaded = peak_rss_mb()
    cpu = cpu_seconds()
    start = time.perf_counter()
    items = item_factor_table(interactions, params, min_users=1, min_items=1, min_interactions=1)
    fitted = time.perf_counter()
    users = user_factor_table(interactions, items)
    solved = time.perf_counter()
    recs = serve_recommendations(interactions, None, evaluation=evaluation, item_factors=items, user_factors=users,
                                 n=args.n, filter_purchased=True)
    recommended = time.perf_counter()
    similar_products_table(items, products, interactions, n=args.n)
    done = time.perf_counter()
    return {
        "fit_seconds (matrix + ALS + item table)": round(fitted - start, 2),
        "user_solve_seconds": round(solved - fitted, 2),
        "recommend_top_n_seconds": round(recommended - solved, 2),
        "similar_products_seconds": round(done - recommended, 2),
        "wall_seconds": round(done - start, 2),
        "cpu_seconds": round(cpu_seconds() - cpu, 2),
        "peak_rss_mb": peak_rss_mb(),
        "peak_rss_mb_after_loading_input": rss_loaded,
        "rows": recs.height,
        "sources": dict(recs.group_by("source").len().sort("source").rows()),
    }


def prepare(args: argparse.Namespace) -> dict:
    """Write interactions.parquet and the matching confidence / purchased CSR for (a)."""
    import numpy as np
    import polars as pl
    from ecom_growth.recommend import (
        indicator_matrix,
        interaction_matrix,
        purchased_pairs,
    )
    from ecom_growth.recommend.synthetic import synthetic_purchases

    workdir = Path(args.workdir)
    start = time.perf_counter()
    if args.interactions:
        interactions = pl.read_parquet(args.interactions)
        source = args.interactions
    else:
        events = synthetic_purchases(
            args.users,
            args.items,
            rank=16,
            purchases_per_user=args.purchases_per_user,
            candidates=20,
            seed=args.seed,
        )
        interactions = (
            events.group_by("customer_id", "product_id")
            .agg(pl.len().cast(pl.Int64).alias("purchase_count"))
            .with_columns(strength=pl.col("purchase_count").cast(pl.Float64))
        )
        source = f"synthetic_purchases({args.users}, {args.items}, purchases_per_user={args.purchases_per_user})"
    interactions.write_parquet(workdir / "interactions.parquet")
    matrix, maps = interaction_matrix(interactions, weighting="bm25")
    bought = indicator_matrix(purchased_pairs(interactions), maps)
    np.savez(
        workdir / "confidence.npz",
        data=matrix.data,
        indices=matrix.indices,
        indptr=matrix.indptr,
        shape=np.array(matrix.shape),
        bought_indices=bought.indices,
        bought_indptr=bought.indptr,
    )
    return {
        "input": source,
        "users": matrix.shape[0],
        "items": matrix.shape[1],
        "nonzeros": int(matrix.nnz),
        "prepare_seconds": round(time.perf_counter() - start, 2),
    }


def run_child(stage: str, argv: list[str]) -> dict:
    """Run one stage in a fresh process. The parent stays small on purpose: Linux carries a
    parent's resident size into a forked child's ru_maxrss, so a fat parent would inflate it."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, __file__, "--stage", stage, *argv], env=env, check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interactions", help="Parquet with customer_id, product_id, strength[, purchase_count]")
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=40_000)
    parser.add_argument("--purchases-per-user", type=float, default=5.0)
    parser.add_argument("--factors", type=int, default=32)
    parser.add_argument("--regularization", type=float, default=0.1)
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeats", type=int, default=1, help="alternate (a), (b) this many times; report the fastest")
    parser.add_argument("--workdir")
    parser.add_argument("--stage", choices=["prepare", "direct", "pipeline"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.stage:
        stages = {"prepare": prepare, "direct": stage_direct, "pipeline": stage_pipeline}
        print(json.dumps(stages[args.stage](args)))
        return

    with tempfile.TemporaryDirectory(prefix="bench_als_") as tmp:
        workdir = args.workdir or tmp
        Path(workdir).mkdir(parents=True, exist_ok=True)
        common = [
            "--workdir", workdir, "--factors", str(args.factors), "--regularization", str(args.regularization),
            "--iterations", str(args.iterations), "--n", str(args.n), "--seed", str(args.seed),
        ]
        source = (
            ["--interactions", args.interactions]
            if args.interactions
            else ["--users", str(args.users), "--items", str(args.items),
                  "--purchases-per-user", str(args.purchases_per_user)]
        )
        data = run_child("prepare", common + source)
        runs: dict[str, list[dict]] = {"direct": [], "pipeline": []}
        for _ in range(args.repeats):  # alternate, so background load hits both alike
            for stage in ("direct", "pipeline"):
                runs[stage].append(run_child(stage, common))
    best = {stage: min(results, key=lambda r: r["wall_seconds"]) for stage, results in runs.items()}
    print(
        json.dumps(
            {
                "data": data,
                "params": {"factors": args.factors, "regularization": args.regularization,
                           "iterations": args.iterations, "n": args.n, "cores": os.cpu_count(),
                           "repeats": args.repeats},
                "direct_implicit": best["direct"],
                "pipeline": best["pipeline"],
                "all_wall_seconds": {stage: [r["wall_seconds"] for r in rs] for stage, rs in runs.items()},
                "pipeline_over_direct_wall": round(best["pipeline"]["wall_seconds"] / best["direct"]["wall_seconds"], 3),
                "pipeline_over_direct_cpu": round(best["pipeline"]["cpu_seconds"] / best["direct"]["cpu_seconds"], 3),
                "load_average_1m_at_end": round(os.getloadavg()[0], 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
