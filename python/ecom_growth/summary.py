"""A short, readable account of what a build produced (printed by `python -m ecom_growth summary`)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ecom_growth.model_status import degraded_tables

# The tables a growth team reads first, in reading order; missing ones are reported as such.
KEY_TABLES = (
    ("marts", "dim_customers"),
    ("marts", "fct_orders"),
    ("marts", "fct_user_item_interactions"),
    ("marts", "fct_cohort_retention"),
    ("serving", "fct_customer_clv"),
    ("marts", "fct_channel_acquisition"),
    ("marts", "fct_experiment_results"),
    ("ml", "ml_recommendations"),
    ("ml", "ml_churn_scores"),
    ("ml", "ml_customer_segments"),
    ("serving", "fct_next_best_actions"),
    ("marts", "fct_raw_reconciliation"),
)


def build_summary(db_path: str | Path) -> str:
    """Row counts of the key tables, the analysis date, quarantine totals and how to query."""
    db_path = Path(db_path)
    lines = [f"Warehouse: {db_path.resolve()}"]
    with duckdb.connect(str(db_path), read_only=True) as con:
        existing = {
            (s, t) for s, t in con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        }
        if ("intermediate", "int_as_of") in existing:
            as_of, source = con.execute("select as_of, as_of_source from intermediate.int_as_of").fetchone()
            lines.append(f"as_of: {as_of} ({source})")
        lines.append("")
        lines.append(f"{'table':<42} {'rows':>12}")
        for schema, table in KEY_TABLES:
            name = f"{schema}.{table}"
            if (schema, table) in existing:
                rows = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
                lines.append(f"{name:<42} {rows:>12,}")
            else:
                lines.append(f"{name:<42} {'(not built)':>12}")
        if ("marts", "fct_raw_reconciliation") in existing:
            raw, rejected = con.execute(
                "select sum(raw_rows), sum(rejected_rows) from marts.fct_raw_reconciliation"
            ).fetchone()
            lines.append("")
            lines.append(f"raw rows read: {raw:,}; quarantined with a reason: {rejected:,} (see staging.stg_shop__*_rejected)")
        # Models this shop's data could not identify: they fell back to simple estimates.
        degraded = degraded_tables(con)
        lines.append("")
        lines.extend(t.line() for t in degraded)
        if not degraded:
            lines.append("every ML table has status ok")
    lines.append("")
    lines.append("Query it:")
    lines.append(f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{db_path}', read_only=True).sql('select * from marts.dim_customers limit 5'))\"")
    lines.append("  or read the Parquet copies in exports/ from any BI tool.")
    return "\n".join(lines)
