"""Command line entry point: ``python -m ecom_growth <command> ...``.

Each command is a subparser registered by a small ``_add_<command>`` function and run by a
``_run_<command>(args) -> int`` function, so adding one never touches the others.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

Runner = Callable[[argparse.Namespace], int]
COMPAT_FILE = "ecom_growth_duckdb1.duckdb"


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from None


def _add_generate(subparsers: argparse._SubParsersAction) -> None:
    from ecom_growth.simulator.config import DEFAULT_END, DEFAULT_START

    parser = subparsers.add_parser(
        "generate",
        help="simulate a shop: raw Parquet exports + _truth.json (planted parameters)",
        description="Write one Parquet file per raw table and _truth.json to --out. Same arguments, same bytes.",
    )
    parser.add_argument("--customers", type=int, default=50_000, help="signups in the first 730 days from --start (default 50000)")
    parser.add_argument("--seed", type=int, default=42, help="master random seed (default 42)")
    parser.add_argument("--out", type=Path, default=Path("data/raw"), help="output directory (default data/raw)")
    parser.add_argument("--start", type=_iso_date, default=DEFAULT_START, help=f"first day (default {DEFAULT_START})")
    parser.add_argument("--end", type=_iso_date, default=DEFAULT_END, help=f"last day, inclusive (default {DEFAULT_END})")
    parser.add_argument("--dirty-rate", type=float, default=0.0,
                        help="per table and defect class, append this fraction of bad rows, at most 0.15 (default 0)")
    parser.add_argument("--effects", choices=("full", "none"), default="full",
                        help="'none': plain BG/NBD + Gamma-Gamma for every customer (default full)")
    parser.add_argument("--products", type=int, default=None,
                        help="catalogue size (default: customers / 20, clamped to 300..50000)")
    parser.add_argument("--dropout-after-first", action="store_true",
                        help="MBG/NBD: customers may also drop out right after their first purchase")
    parser.set_defaults(run=_run_generate)


def _run_generate(args: argparse.Namespace) -> int:
    from ecom_growth.simulator import TRUTH_FILE, generate

    truth = generate(
        customers=args.customers, seed=args.seed, out=args.out, start=args.start, end=args.end,
        dirty_rate=args.dirty_rate, effects=args.effects, products=args.products,
        dropout_after_first=args.dropout_after_first,
    )
    for table, rows in truth["raw_rows"].items():
        dirty = rows - truth["clean_rows"][table]
        print(f"{table:<24} {rows:>12,} rows" + (f"  ({dirty:,} dirty)" if dirty else "") + f"  {args.out / (table + '.parquet')}")
    print(f"truth: {args.out / TRUTH_FILE}")
    return 0


def _add_export(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="publish the marts, ML and serving tables of a complete build as Parquet (one unit)",
        description="Write every table of the marts, ml and serving schemas, one Parquet file per next-best "
        "action (audiences/) and _manifest.json (build id, as_of, rows, SHA-256) to <out>/runs/<build>/, then "
        "switch the symlink <out>/current to it atomically. Refuses a warehouse whose last build did not complete.",
    )
    parser.add_argument("--db", type=Path, default=Path("warehouse/ecom_growth.duckdb"), help="DuckDB warehouse file")
    parser.add_argument("--out", type=Path, default=Path("exports"), help="output folder (default exports)")
    parser.add_argument("--duckdb-compat", action="store_true",
                        help=f"also write <out>/{COMPAT_FILE}: the same tables in a DuckDB file that DuckDB 1.x opens")
    parser.add_argument("--storage-version", default="v1.0.0",
                        help="DuckDB storage version of the --duckdb-compat copy (default v1.0.0: DuckDB 1.0 and later)")
    parser.set_defaults(run=_run_export_and_compat)


def _run_export(args: argparse.Namespace) -> int:
    from ecom_growth.build_log import build_notices
    from ecom_growth.exports import CURRENT_LINK, publish_exports

    published = publish_exports(args.db, args.out)
    print(f"published build {published.build.build_id}: {len(published.tables)} tables and "
          f"{len(published.audiences)} audiences in {published.run_dir}/; {args.out / CURRENT_LINK} points at it")
    for notice in build_notices(published.build):
        print(notice, file=sys.stderr)
    return 0


def _run_export_and_compat(args: argparse.Namespace) -> int:
    status = _run_export(args)
    if status == 0 and args.duckdb_compat:
        from ecom_growth.duckdb_compat import write_compat_copy

        copied = write_compat_copy(args.db, args.out / COMPAT_FILE, args.storage_version)
        print(f"DuckDB {args.storage_version} copy of {len(copied)} tables: {args.out / COMPAT_FILE}")
    return status


def _add_summary(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("summary", help="row counts of the key tables and how to query them")
    parser.add_argument("--db", type=Path, default=Path("warehouse/ecom_growth.duckdb"), help="DuckDB warehouse file")
    parser.set_defaults(run=_run_summary)


def _run_summary(args: argparse.Namespace) -> int:
    from ecom_growth.build_log import build_notices, open_complete_warehouse
    from ecom_growth.summary import build_summary

    con, build = open_complete_warehouse(args.db)  # refuses an incomplete build
    con.close()
    notices = build_notices(build)
    print("\n\n".join([*notices, build_summary(args.db), *notices]))
    return 0


def _add_report(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="the growth report: one self-contained HTML page (charts + tables) from the BI tables",
        description="Write <out>/growth_report.html from the marts, ML and serving tables of a complete build: "
        "KPIs, retention, acquisition, CLV, churn, recommendations, experiments, segments and actions. "
        "All JavaScript and data are inline: it opens offline by double-click.",
    )
    parser.add_argument("--db", type=Path, default=Path("warehouse/ecom_growth.duckdb"), help="DuckDB warehouse file")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="output folder (default reports)")
    parser.set_defaults(run=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from ecom_growth.report import build_report

    report = build_report(args.db, args.out)
    for section in report.sections:
        for note in section.notes:
            print(f"note [{section.title}]: {note}", file=sys.stderr)
    print(f"report: {report.path.resolve()}")
    return 0


def _add_bench(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="time and measure peak memory of every stage at a given scale",
        description="Generate --customers simulated customers, run each dbt stage as its own process, "
        "and write bench_<customers>.json/.md with wall time, peak RSS and the slowest models.",
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work", type=Path, default=Path("build/bench"), help="scratch folder (raw data, warehouse)")
    parser.add_argument("--out", type=Path, default=Path("bench/results"), help="report folder")
    parser.add_argument("--reuse-data", action="store_true", help="skip generation if the raw data exists")
    parser.add_argument("--stages", action="store_true", help="also run every stage alone with --threads 1")
    parser.add_argument("--no-als", action="store_true", help="skip the ALS vs raw implicit comparison")
    parser.add_argument("--full-only", action="store_true",
                        help="only the full build (no daily refresh), e.g. for scaling runs")
    parser.set_defaults(run=_run_bench)


def _run_bench(args: argparse.Namespace) -> int:
    from ecom_growth.bench import run_benchmark

    report = run_benchmark(args.customers, Path.cwd(), args.work, args.out, seed=args.seed, reuse_data=args.reuse_data,
                           stages=args.stages, als=not args.no_als, daily=not args.full_only)
    print((args.out / f"bench_{args.customers}.md").read_text())
    return 0 if report["ok"] else 1


COMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (_add_generate, _add_export, _add_summary, _add_bench, _add_report)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecom_growth", description="ecom_growth: e-commerce growth analytics tools")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings only")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return args.run(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
