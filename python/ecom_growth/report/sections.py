"""The report's sections: one function per section, each reading only the BI tables it names.

Every function takes a ``Warehouse`` and returns a ``Section``; each chart or table is built in
its own ``section.part`` block, so an absent table or column costs that part only (the section
says what is missing). Aggregation happens in SQL, so the page stays small at any data size.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import polars as pl

from ecom_growth.report import charts
from ecom_growth.report.section import Section
from ecom_growth.report.warehouse import MissingData, Warehouse

# Months of cohorts and periods shown in the heatmap (the newest ones).
HEATMAP_COHORTS = 24
KPI_TREND_MONTHS = 13
CLV_BINS = 40


def _filters(wh: Warehouse, table: str, wanted: dict[str, object]) -> str:
    """``and col = value`` for each wanted column the table has (columns added by later versions)."""
    clauses = []
    for column, value in wanted.items():
        if column in wh.columns(table):
            literal = ("true" if value else "false") if isinstance(value, bool) else "'" + str(value).replace("'", "''") + "'"
            clauses.append(f" and {column} = {literal}")
    return "".join(clauses)


def _interval(frame: pl.DataFrame, lower: str, upper: str, name: str, digits: int = 3) -> list[pl.Expr]:
    """'[lower, upper]' as one text column (empty list when the frame has no such interval)."""
    if lower not in frame.columns or upper not in frame.columns:
        return []
    text = lambda c: pl.col(c).round(digits).cast(pl.String)  # noqa: E731
    return [(pl.lit("[") + text(lower) + ", " + text(upper) + "]").alias(name)]


def _month_start(value: str | datetime | date) -> date:
    moment = datetime.fromisoformat(str(value)) if not isinstance(value, date) else value
    return date(moment.year, moment.month, 1)


def _add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


# ----------------------------------------------------------------------------------- 1. KPIs

def kpis(wh: Warehouse) -> Section:
    section = Section(
        "kpis", "Headline KPIs",
        "The last complete calendar month before the analysis date against the month before it: "
        "customers (ever bought, at month end), buyers and revenue in the month, repeat-purchase rate, "
        "month-over-month retention, average customer lifetime value and blended CAC.",
        "Read the change column first. Retention is the share of last month's buyers who bought again "
        "this month; blended CAC is all marketing spend of the month divided by the customers it acquired "
        "(marked provisional while their conversion window is still open). CLV is a snapshot at the "
        "analysis date, so it has no previous month.",
    )
    as_of = wh.as_of()
    if as_of is None:
        section.notes.append("No analysis date: fct_orders is empty or absent, so there is no complete month.")
        return section
    last = _add_months(_month_start(as_of), -1)
    prev = _add_months(last, -1)
    rows: list[dict] = []
    with section.part("Order KPIs"):
        frame = wh.query(
            """
            with o as (select customer_id, ordered_at, revenue, completed_order_number from {fct_orders} where is_completed),
            m as (select unnest([?::date, ?::date, ?::date]) as month_start),
            buyers as (select distinct date_trunc('month', ordered_at)::date as month_start, customer_id from o)
            select m.month_start,
                (select count(*) from o where completed_order_number = 1
                    and ordered_at < m.month_start + interval 1 month) as customers,
                (select count(*) from buyers b where b.month_start = m.month_start) as buyers,
                (select sum(revenue)::double from o where date_trunc('month', ordered_at)::date = m.month_start) as revenue,
                (select count(*) from o where completed_order_number = 2
                    and ordered_at < m.month_start + interval 1 month) as repeat_customers,
                (select count(*) from buyers b join buyers p on p.customer_id = b.customer_id
                    and p.month_start = m.month_start - interval 1 month where b.month_start = m.month_start) as retained,
                (select count(*) from buyers p where p.month_start = m.month_start - interval 1 month) as previous_buyers
            from m order by m.month_start
            """,
            {"fct_orders": ["customer_id", "ordered_at", "revenue", "completed_order_number", "is_completed"]},
            [_add_months(prev, -1), prev, last],
        ).filter(pl.col("month_start") >= prev)
        frame = frame.with_columns(
            repeat_purchase_rate=pl.col("repeat_customers") / pl.col("customers"),
            retention=pl.col("retained") / pl.col("previous_buyers"),
        )
        by_month = {row["month_start"]: row for row in frame.iter_rows(named=True)}
        for label, column, fmt in (("customers (ever bought)", "customers", "int"), ("buyers", "buyers", "int"),
                                   ("revenue (currency)", "revenue", "money"),
                                   ("repeat-purchase rate", "repeat_purchase_rate", "pct"),
                                   ("retention (last month's buyers)", "retention", "pct")):
            rows.append(_kpi_row(label, by_month.get(last, {}).get(column), by_month.get(prev, {}).get(column), fmt))
    with section.part("Average CLV"):
        clv = wh.query("select avg(historical_clv) as h, avg(predicted_clv) as p from {fct_customer_clv}",
                       {"fct_customer_clv": ["historical_clv", "predicted_clv"]})
        rows.append(_kpi_row("average historical CLV (currency, at analysis date)", clv["h"][0], None, "money"))
        rows.append(_kpi_row("average predicted CLV (currency, at analysis date)", clv["p"][0], None, "money"))
        section.degraded("fct_customer_clv", wh.degraded("fct_customer_clv"))
    with section.part("Blended CAC"):
        cac = wh.query(
            """select signup_month, sum(spend) / nullif(sum(converted_customers), 0) as cac,
                   bool_and(is_conversion_window_complete) as final
            from {fct_channel_acquisition} where signup_month in (?, ?) group by 1""",
            {"fct_channel_acquisition": ["signup_month", "spend", "converted_customers", "is_conversion_window_complete"]},
            [prev, last],
        )
        by_month = {row["signup_month"]: row for row in cac.iter_rows(named=True)}
        final = all(row["final"] for row in by_month.values())
        rows.append(_kpi_row("blended CAC (currency per acquired customer)" + ("" if final else " — provisional"),
                             by_month.get(last, {}).get("cac"), by_month.get(prev, {}).get("cac"), "money"))
    if rows:
        section.table(f"{last:%B %Y} vs {prev:%B %Y}", pl.DataFrame(rows, orient="row", schema=["KPI", f"{last:%b %Y}",
                      f"{prev:%b %Y}", "change"]))
    with section.part("Monthly trend"):
        trend = wh.query(
            """select date_trunc('month', ordered_at)::date as month, sum(revenue)::double as revenue,
                   count(distinct customer_id) as buyers
            from {fct_orders} where is_completed and ordered_at >= ? and ordered_at < ? group by 1 order by 1""",
            {"fct_orders": ["ordered_at", "revenue", "customer_id", "is_completed"]},
            [_add_months(last, 1 - KPI_TREND_MONTHS), _add_months(last, 1)],
        )
        fig = charts.figure("month", "revenue (currency)")
        fig.add_bar(x=trend["month"].to_list(), y=trend["revenue"].to_list(), name="revenue (left axis)",
                    marker_color=[charts.PALETTE[1] if m == last else charts.PALETTE[0] for m in trend["month"]])
        fig.add_scatter(x=trend["month"].to_list(), y=trend["buyers"].to_list(), name="buyers (right axis)",
                        yaxis="y2", mode="lines+markers", line={"color": "#000000"})
        fig.update_layout(yaxis2={"title": {"text": "buyers (customers)"}, "overlaying": "y", "side": "right",
                                  "showgrid": False, "tickformat": ",.0f", "rangemode": "tozero"}, margin={"r": 70})
        section.chart(f"Revenue and buyers per month (the last complete month, {last:%b %Y}, in orange)", fig)
    return section


def _kpi_row(label: str, current, previous, fmt: str) -> list:
    from ecom_growth.report.section import format_value

    change = "—"
    if current is not None and previous not in (None, 0):
        change = (f"{(current - previous) * 100:+.1f} pp" if fmt == "pct" else f"{current / previous - 1:+.1%}")
    return [label, format_value(current, fmt), format_value(previous, fmt), change]


# ------------------------------------------------------------------------------ 2. Retention

def retention(wh: Warehouse) -> Section:
    section = Section(
        "retention", "Cohort retention and repurchase curves",
        "First: each row of the heatmap is a monthly acquisition cohort (first completed order in that month), each column "
        "a month since the first order; the cell is the share of the cohort that ordered in that month. "
        "Then: the Kaplan-Meier probability that a first-time buyer places a second order within N days, "
        "per acquisition channel (censoring-aware: recent customers count only for the days observed).",
        "Read a heatmap row left to right to see how one cohort decays; read a column top to bottom to see "
        "whether newer cohorts retain better. Cells circled in grey are incomplete periods (the month is not "
        "over at the analysis date) and will still rise. Month 0 is 100% by definition and is left out. "
        "Higher repurchase curves are better channels; the black dashed line is all customers.",
    )
    with section.part("Cohort heatmap"):
        cohorts = wh.query(
            """select cohort_start, period_number, retention_rate, is_complete, cohort_size
            from {fct_cohort_retention}
            where cohort_grain = 'month' and segment_type = 'overall' and period_number >= 1
              and cohort_start >= (select max(cohort_start) from {fct_cohort_retention}
                                   where cohort_grain = 'month') - to_months(?)
            order by cohort_start, period_number""",
            {"fct_cohort_retention": ["cohort_grain", "segment_type", "cohort_start", "period_number",
                                      "retention_rate", "is_complete", "cohort_size"]},
            [HEATMAP_COHORTS - 1],
        )
        grid = cohorts.pivot(on="period_number", index="cohort_start", values="retention_rate",
                             aggregate_function="first", sort_columns=True).sort("cohort_start")
        periods = sorted((c for c in grid.columns if c != "cohort_start"), key=int)
        labels = [f"{d:%Y-%m}" for d in grid["cohort_start"]]
        fig = charts.figure("months since first order", "cohort (month of first order)", height=560)
        fig.add_heatmap(
            x=[int(p) for p in periods], y=labels, z=[list(row) for row in grid.select(periods).iter_rows()],
            colorscale=charts.SEQUENTIAL, zmin=0, colorbar={"title": {"text": "active share"}, "tickformat": ".0%"},
            hovertemplate="cohort %{y}, month %{x}: %{z:.1%}<extra></extra>", name="retention",
        )
        incomplete = cohorts.filter(~pl.col("is_complete"))
        if incomplete.height:
            fig.add_scatter(
                x=incomplete["period_number"].to_list(), y=[f"{d:%Y-%m}" for d in incomplete["cohort_start"]],
                mode="markers", name="incomplete period",
                marker={"symbol": "circle-open", "size": 11, "color": "#bbbbbb", "line": {"width": 2}},
            )
        fig.update_layout(yaxis={"autorange": "reversed", "type": "category"}, xaxis={"dtick": 1})
        section.chart("Monthly cohorts: share of customers ordering, by months since first order", fig)
        sizes = (cohorts.group_by("cohort_start").agg(pl.col("cohort_size").first(),
                 pl.col("retention_rate").filter(pl.col("period_number") == 1).first().alias("month_1"),
                 pl.col("retention_rate").filter(pl.col("period_number") == 3).first().alias("month_3"),
                 pl.col("retention_rate").filter(pl.col("period_number") == 6).first().alias("month_6"))
                 .sort("cohort_start", descending=True))
        section.table("Newest cohorts: size and retention after 1, 3 and 6 months", sizes,
                      {"month_1": "pct", "month_3": "pct", "month_6": "pct"})
    with section.part("Repurchase curves"):
        curves = wh.query(
            """select case when segment_type = 'overall' then 'all customers' else segment_value end as channel,
                   day, repurchase_probability, n_subjects
            from {fct_retention_curves}
            where curve_type = 'first_to_second_order' and segment_type in ('overall', 'acquisition_channel')
            order by channel, day""",
            {"fct_retention_curves": ["curve_type", "segment_type", "segment_value", "day", "repurchase_probability",
                                      "n_subjects"]},
        )
        section.chart("Kaplan-Meier probability of a second order within N days, by channel",
                      charts.lines_by_group(curves, "day", "repurchase_probability", "channel",
                                            x_title="days since first order", y_title="probability of a 2nd order",
                                            y_format=".0%", highlight=("all customers",)))
        table = curves.pivot(on="day", index="channel", values="repurchase_probability", aggregate_function="first")
        section.table("Probability of a second order within N days (columns: days)", table,
                      {c: "pct" for c in table.columns if c != "channel"})
    return section


# ---------------------------------------------------------------------------- 3. Acquisition

def acquisition(wh: Warehouse) -> Section:
    section = Section(
        "acquisition", "Acquisition: CAC, LTV:CAC, payback and funnel",
        "Per channel, pooled over signup months whose conversion window is complete: the cost of acquiring "
        "one customer (CAC), revenue per acquired customer within 180 days of the first order against it "
        "(LTV:CAC, revenue-based: there is no cost of goods), the median month in which revenue paid back "
        "the CAC, and the session funnel view -> add to cart -> purchase.",
        "Bars compare CAC with 180-day revenue per customer in the same currency: revenue above CAC pays back "
        "within 180 days. LTV:CAC above 1 pays back on revenue; margins decide profit. Unpaid channels "
        "(organic, referral) have no CAC. In the funnel, each bar is the share of all sessions reaching the step.",
    )
    with section.part("CAC and revenue by channel"):
        summary = wh.query(
            """select acquisition_channel, converted_customers, conversion_rate, cac,
                   revenue_per_customer_180d, ltv_to_cac_180d
            from {fct_channel_acquisition_summary} order by cac desc nulls last, acquisition_channel""",
            {"fct_channel_acquisition_summary": ["acquisition_channel", "converted_customers",
                                                 "conversion_rate", "cac", "revenue_per_customer_180d",
                                                 "ltv_to_cac_180d"]},
        )
        payback = pl.DataFrame(schema={"acquisition_channel": pl.String, "median_payback_month": pl.Float64})
        if wh.has("fct_channel_acquisition", ("acquisition_channel", "payback_month")):
            payback = wh.query(
                """select acquisition_channel, median(payback_month) as median_payback_month
                from {fct_channel_acquisition} group by 1""",
                {"fct_channel_acquisition": ["acquisition_channel", "payback_month"]}, allow_empty=True,
            )
        table = summary.join(payback, on="acquisition_channel", how="left")
        long = table.select("acquisition_channel", pl.col("cac").alias("CAC"),
                            pl.col("revenue_per_customer_180d").alias("revenue per customer, 180 days")
                            ).unpivot(index="acquisition_channel", variable_name="measure")
        section.chart("CAC vs 180-day revenue per acquired customer, by channel",
                      charts.bars_by_group(long, "acquisition_channel", "value", "measure",
                                           x_title="acquisition channel", y_title="currency per acquired customer"))
        section.table("Channels (complete signup months)", table,
                      {"conversion_rate": "pct", "cac": "money", "revenue_per_customer_180d": "money",
                       "ltv_to_cac_180d": ".2f", "median_payback_month": ".1f"})
    with section.part("Conversion funnel"):
        funnel = wh.query(
            """select acquisition_channel, sum(sessions) as sessions,
                   sum(sessions_with_view) / sum(sessions) as viewed,
                   sum(sessions_with_add_to_cart) / sum(sessions) as added_to_cart,
                   sum(sessions_with_purchase) / sum(sessions) as purchased
            from {fct_conversion_funnel} group by 1 having sum(sessions) > 0 order by 1""",
            {"fct_conversion_funnel": ["acquisition_channel", "sessions", "sessions_with_view",
                                       "sessions_with_add_to_cart", "sessions_with_purchase"]},
        )
        long = funnel.unpivot(index="acquisition_channel", on=["viewed", "added_to_cart", "purchased"],
                              variable_name="step").with_columns(pl.col("step").str.replace_all("_", " "))
        section.chart("Share of sessions reaching each funnel step, by channel",
                      charts.bars_by_group(long, "acquisition_channel", "value", "step", x_title="acquisition channel",
                                           y_title="share of sessions", y_format=".0%"))
        section.table("Funnel by channel (all months)", funnel,
                      {"viewed": "pct", "added_to_cart": "pct", "purchased": "pct"})
    return section


# -------------------------------------------------------------------------- 4. Customer value

def customer_value(wh: Warehouse) -> Section:
    section = Section(
        "value", "Customer value (CLV)",
        "Historical CLV is revenue already realised per customer; predicted CLV is the discounted revenue "
        "BG/NBD + Gamma-Gamma expect over the horizon after the analysis date. Then predicted CLV per customer "
        "by first-order cohort and channel, and the model's holdout check: value predicted for a "
        "held-out period against what happened, by decile of predicted value (older builds: purchases by "
        "how often customers bought before it).",
        "Distributions are right-skewed: compare medians and the top percentiles, not only means (values above "
        "the 99th percentile are in the last bar). In the holdout check, bars of a pair close together mean "
        "the model is well calibrated for that kind of customer; the 'relative error' column gives the gap.",
    )
    with section.part("CLV distribution"):
        cols = {"fct_customer_clv": ["historical_clv", "predicted_clv"]}
        top = wh.query("""select greatest(quantile_cont(historical_clv, 0.99), quantile_cont(predicted_clv, 0.99)) as top
                       from {fct_customer_clv}""", cols)["top"][0]
        if not top or top <= 0:
            raise MissingData("fct_customer_clv has no positive CLV")
        width = top / CLV_BINS
        hist = wh.query(
            f"""select measure, least(floor(value / {width}), {CLV_BINS - 1}) * {width} + {width} / 2 as bin_mid,
                   count(*) as customers
            from (select 'historical' as measure, historical_clv as value from {{fct_customer_clv}}
                  union all select 'predicted', predicted_clv from {{fct_customer_clv}})
            where value is not null group by all order by measure, bin_mid""", cols)
        fig = charts.figure("CLV (currency per customer)", "customers")
        for i, (key, part) in enumerate(hist.group_by("measure", maintain_order=True)):
            fig.add_bar(x=part["bin_mid"].cast(pl.Float64).to_list(), y=part["customers"].to_list(), name=str(key[0]),
                        marker_color=charts.colour(i))
        fig.update_layout(barmode="group", bargap=0.1)
        section.chart("Historical vs predicted CLV per customer (last bar: 99th percentile and above)", fig)
        stats = wh.query(
            """select measure, count(*) as customers, avg(v) as mean, median(v) as median,
                   quantile_cont(v, 0.9) as p90, quantile_cont(v, 0.99) as p99, sum(v) as total
            from (select 'historical' as measure, historical_clv as v from {fct_customer_clv}
                  union all select 'predicted', predicted_clv from {fct_customer_clv})
            where v is not null group by 1 order by 1""", cols)
        section.table("CLV summary (currency per customer)", stats,
                      {c: "money" for c in ("mean", "median", "p90", "p99", "total")})
        section.degraded("fct_customer_clv", wh.degraded("fct_customer_clv"))
    with section.part("CLV by cohort and channel"):
        cohort = wh.query(
            """select cohort_month, acquisition_channel, customers, predicted_clv_per_customer,
                   historical_clv_per_customer from {fct_cohort_clv} order by cohort_month, acquisition_channel""",
            {"fct_cohort_clv": ["cohort_month", "acquisition_channel", "customers", "predicted_clv_per_customer",
                                "historical_clv_per_customer"]},
        )
        section.chart("Predicted CLV per customer by first-order cohort, per channel",
                      charts.lines_by_group(cohort, "cohort_month", "predicted_clv_per_customer", "acquisition_channel",
                                            x_title="cohort (month of first order)",
                                            y_title="predicted CLV (currency per customer)"))
        pooled = (cohort.group_by("acquisition_channel")
                  .agg(pl.col("customers").sum(),
                       ((pl.col("historical_clv_per_customer") * pl.col("customers")).sum() / pl.col("customers").sum())
                       .alias("historical_clv_per_customer"),
                       ((pl.col("predicted_clv_per_customer") * pl.col("customers")).sum() / pl.col("customers").sum())
                       .alias("predicted_clv_per_customer"))
                  .sort("predicted_clv_per_customer", descending=True))
        section.table("CLV per customer by channel (all cohorts)", pooled,
                      {"historical_clv_per_customer": "money", "predicted_clv_per_customer": "money"})
    with section.part("CLV holdout check"):
        table = "ml_clv_evaluation"
        # The selected model on the test window (chosen on the earlier validation window).
        selected = _filters(wh, table, {"is_selected": True, "split": "test"})
        if wh.has(table, ("breakdown", "bucket", "predicted_revenue_mean", "actual_revenue_mean")):
            # Predicted vs actual holdout value by decile of predicted value (the selected model).
            check = wh.query(
                f"""select bucket as predicted_value_decile, n_customers, predicted_revenue_mean as predicted_value,
                       actual_revenue_mean as actual_value, revenue_relative_error as relative_error, holdout_days
                from {{{table}}} where breakdown = 'predicted_revenue_decile' {selected} order by bucket""",
                {table: ["bucket", "n_customers", "predicted_revenue_mean", "actual_revenue_mean",
                         "revenue_relative_error", "holdout_days", "breakdown"]},
            )
            x, unit, x_title = "predicted_value_decile", "value (currency) per customer", \
                "decile of predicted value (01 = highest)"
        else:
            check = wh.query(
                f"""select frequency_bucket, n_customers, predicted_purchases_mean as predicted_value,
                       actual_purchases_mean as actual_value, relative_error, holdout_days
                from {{{table}}} where frequency_bucket <> 'all' {selected} order by frequency_bucket""",
                {table: ["frequency_bucket", "n_customers", "predicted_purchases_mean", "actual_purchases_mean",
                         "relative_error", "holdout_days"]},
            )
            x, unit, x_title = "frequency_bucket", "purchases per customer", \
                "repeat purchases before the holdout (customers' bucket)"
        days = int(check["holdout_days"][0])
        long = check.select(x, pl.col("predicted_value").alias("predicted"), pl.col("actual_value").alias("actual")
                            ).unpivot(index=x, variable_name="measure")
        section.chart(f"Holdout check: {unit} in the {days}-day holdout, predicted vs actual",
                      charts.bars_by_group(long, x, "value", "measure", x_title=x_title,
                                           y_title=f"{unit} in {days} days"))
        section.table(f"Holdout check ({unit}; relative error = predicted / actual - 1)", check.drop("holdout_days"),
                      {"predicted_value": "float", "actual_value": "float", "relative_error": "pct"})
        section.degraded("ml_clv_evaluation", wh.degraded("ml_clv_evaluation"))
    return section


# ---------------------------------------------------------------------------------- 5. Churn

def churn(wh: Warehouse) -> Section:
    section = Section(
        "churn", "Churn risk",
        "How many customers fall in each churn-risk tier, whether the predicted probabilities match observed "
        "churn (calibration, on the test snapshot the model was not chosen on), how the selected model ranks "
        "against the simple baselines, and the reasons most often given for high risk.",
        "In the calibration plot, points on the diagonal mean 'a 70% risk churns 70% of the time'. "
        "In the model comparison, higher ROC-AUC ranks churners above stayers better; error bars are 95% "
        "bootstrap intervals, and overlapping bars mean the difference may be noise. Reasons are the feature "
        "groups that raise a customer's risk most compared with a typical customer.",
    )
    for table in ("ml_churn_scores", "ml_churn_model_evaluation", "ml_churn_model"):
        section.degraded(table, wh.degraded(table))
    with section.part("Risk tiers"):
        tiers = wh.query(
            """select coalesce(risk_tier, 'unscored') as tier, count(*) as customers,
                   count(*) / sum(count(*)) over () as share, avg(churn_probability) as mean_churn_probability
            from {ml_churn_scores} group by 1
            order by case tier when 'high' then 0 when 'medium' then 1 when 'low' then 2 else 3 end""",
            {"ml_churn_scores": ["risk_tier", "churn_probability"]},
        )
        section.chart("Customers per churn-risk tier",
                      charts.bars_by_group(tiers, "tier", "customers", None, x_title="risk tier",
                                           y_title="customers"))
        section.table("Risk tiers", tiers, {"share": "pct", "mean_churn_probability": "pct"})
    with section.part("Calibration"):
        table = "ml_churn_calibration"
        needs = {table: ["model", "bin", "mean_predicted", "observed_rate", "n"]}
        which = _filters(wh, table, {"is_selected": True})
        if which and wh.has("ml_churn_model_evaluation", ("baseline_model",)):
            # The selected model and the strongest baseline, side by side.
            needs["ml_churn_model_evaluation"] = ["baseline_model"]
            which = f"and (true {which} or model in (select baseline_model from {{ml_churn_model_evaluation}}))"
        calibration = wh.query(
            f"""select model, bin, mean_predicted, observed_rate, n from {{{table}}}
            where n > 0 {_filters(wh, table, {"split": "test"})} {which} order by model, bin""", needs,
        )
        fig = charts.figure("mean predicted churn probability", "observed churn rate", x_format=".0%", y_format=".0%")
        fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                        line={"color": charts.MUTED, "dash": "dot"})
        for i, (key, part) in enumerate(calibration.group_by("model", maintain_order=True)):
            fig.add_scatter(x=part["mean_predicted"].to_list(), y=part["observed_rate"].to_list(), name=str(key[0]),
                            mode="lines+markers", marker={"size": 8, "color": charts.colour(i)},
                            line={"color": charts.colour(i)})
        section.chart("Calibration on the test snapshot: selected model (and the strongest baseline)", fig)
        section.table("Calibration bins", calibration, {"mean_predicted": "pct", "observed_rate": "pct"})
    with section.part("Model comparison"):
        table = "ml_churn_model_evaluation"
        optional = [c for c in ("roc_auc_ci_lower", "roc_auc_ci_upper", "brier_score", "log_loss", "top_decile_lift",
                                "log_loss_diff_vs_baseline", "log_loss_diff_ci_lower", "log_loss_diff_ci_upper",
                                "is_selected", "is_baseline") if c in wh.columns(table)]
        evaluation = wh.query(
            f"""select model, roc_auc{''.join(', ' + c for c in optional)} from {{{table}}}
            where roc_auc is not null {_filters(wh, table, {"split": "test"})} order by roc_auc desc""",
            {table: ["model", "roc_auc"]},
        )
        role = pl.lit("")
        if "is_baseline" in evaluation.columns:
            role = pl.when(pl.col("is_baseline")).then(pl.lit(" (baseline)")).otherwise(role)
        if "is_selected" in evaluation.columns:
            role = pl.when(pl.col("is_selected")).then(pl.lit(" (selected)")).otherwise(role)
        evaluation = evaluation.with_columns(pl.col("model") + role)
        section.chart("ROC-AUC of each candidate on the test snapshot (95% bootstrap interval)",
                      charts.bars_by_group(evaluation, "model", "roc_auc", None, x_title="model",
                                           y_title="ROC-AUC (0.5 = random)", ci=("roc_auc_ci_lower", "roc_auc_ci_upper")))
        shown = evaluation.select(
            "model", "roc_auc", *_interval(evaluation, "roc_auc_ci_lower", "roc_auc_ci_upper", "roc_auc_ci"),
            *[c for c in ("brier_score", "log_loss", "top_decile_lift", "log_loss_diff_vs_baseline")
              if c in evaluation.columns],
            *_interval(evaluation, "log_loss_diff_ci_lower", "log_loss_diff_ci_upper", "diff_ci"),
        )
        section.table("Candidates on the test snapshot (lower Brier and log loss are better; a log-loss difference "
                      "whose interval is below 0 beats the strongest baseline)", shown,
                      {"roc_auc": "float", "brier_score": "float", "log_loss": "float", "top_decile_lift": ".2f",
                       "log_loss_diff_vs_baseline": "+.4f"})
    with section.part("Top reasons"):
        # Reasons read '<feature group>: <this customer's values> (typical: ...)'; count the groups.
        reasons = wh.query(
            """with high as (select customer_id, unnest([reason_1, reason_2, reason_3]) as text
                          from {ml_churn_scores} where risk_tier = 'high')
            select split_part(text, ':', 1) as reason, count(distinct customer_id) as customers,
                   count(distinct customer_id) / (select count(distinct customer_id) from high) as share_of_high_risk,
                   min(text) as example
            from high where text is not null group by 1 order by 2 desc, 1 limit 10""",
            {"ml_churn_scores": ["customer_id", "reason_1", "reason_2", "reason_3", "risk_tier"]},
        )
        fig = charts.figure("high-risk customers with this among their top-3 reasons", "",
                            height=max(260, 40 * reasons.height + 100))
        fig.add_bar(x=reasons["customers"].to_list()[::-1], y=reasons["reason"].to_list()[::-1], orientation="h",
                    marker_color=charts.PALETTE[5], name="customers")
        fig.update_layout(margin={"l": 220})
        section.chart("Top reasons of high-risk customers (feature groups)", fig)
        section.table("Top reasons of high-risk customers, with an example", reasons, {"share_of_high_risk": "pct"})
    return section


# ------------------------------------------------------------------------- 6. Recommendations

def recommendations(wh: Warehouse) -> Section:
    section = Section(
        "recommendations", "Product recommendations",
        "The recommender against simple baselines on purchases in a later holdout period it never saw: "
        "precision, recall and NDCG of the top-k list, with 95% bootstrap intervals where the evaluation has "
        "them; then catalogue coverage, diversity and novelty of the lists.",
        "Higher is better for every accuracy metric; a model is better than a baseline when their intervals "
        "do not overlap. Coverage is the share of the catalogue recommended to anyone; diversity the share of "
        "item pairs in a list from different categories; novelty how unpopular the items are (higher = less obvious).",
    )
    table = "ml_recommender_evaluation"
    section.degraded(table, wh.degraded(table))
    with section.part("Accuracy vs baselines"):
        ks = wh.query(f"select distinct k from {{{table}}} order by k", {table: ["k"]})["k"].to_list()
        k = 10 if 10 in ks else ks[len(ks) // 2]
        ci = "".join(f", avg({c}) as {c}" for c in ("ci_lower", "ci_upper") if c in wh.columns(table))
        served = "bool_or(is_served)" if "is_served" in wh.columns(table) else "false"
        # The chosen configuration of each family, and the ALS-minus-best-baseline difference rows.
        selected = "and (is_selected or model like '%minus%')" if "is_selected" in wh.columns(table) else ""
        rows = wh.query(
            f"""select {"population" if "population" in wh.columns(table) else "'warm'"} as population, model, metric,
                   avg(value) as value{ci}, max(users_evaluated) as users_evaluated, {served} as is_served
            from {{{table}}} where k = ? and metric in ('precision', 'recall', 'ndcg')
              {_filters(wh, table, {"split": "test"})} {selected}
            group by all order by population desc, metric, value desc""",
            {table: ["model", "metric", "value", "k", "users_evaluated"]}, [k],
        )
        # Same model, same colour in every chart of the section: traces in model order.
        accuracy = rows.filter((pl.col("population") == "warm") & ~pl.col("model").str.contains("minus")
                               ).sort("model", "metric")
        rows = rows.with_columns(pl.when(pl.col("is_served")).then(pl.col("model") + " (served)")
                                 .otherwise(pl.col("model")))
        section.chart(f"Accuracy at k = {k} on the test holdout, model vs baselines (95% bootstrap interval)",
                      charts.bars_by_group(accuracy, "metric", "value", "model", x_title="metric (top-k list)",
                                           y_title="mean over evaluated customers",
                                           ci=("ci_lower", "ci_upper") if ci else None))
        shown = rows.select("population", "model", "metric", "value",
                            *_interval(rows, "ci_lower", "ci_upper", "confidence_interval"), "users_evaluated")
        section.table(f"Accuracy at k = {k}: customers with history (warm), the difference of ALS and the best "
                      "baseline (below 0 = the baseline is better), and new customers (cold_start)",
                      shown.filter(pl.col("population") == "warm"), {"value": "float"})
        cold = shown.filter(pl.col("population") != "warm")
        if cold.height:
            section.table(f"New customers without history (cold start), k = {k}", cold, {"value": "float"})
    with section.part("Coverage and diversity"):
        beyond = wh.query(
            f"""select model, metric, k, avg(value) as value from {{{table}}}
            where metric in ('coverage', 'diversity', 'novelty')
              {_filters(wh, table, {"split": "test", "population": "warm", "is_selected": True})}
            group by all order by metric, k, model""",
            {table: ["model", "metric", "value", "k"]},
        )
        coverage = beyond.filter(pl.col("metric") == "coverage")
        if coverage.is_empty():
            raise MissingData(f"{table} has no coverage rows")
        section.chart("Catalogue coverage by list length",
                      charts.lines_by_group(coverage.with_columns(pl.col("k").cast(pl.Int64)), "k", "value", "model",
                                            x_title="list length k (items)",
                                            y_title="share of catalogue recommended", y_format=".0%"))
        k = 10 if 10 in beyond["k"].to_list() else beyond["k"].max()
        wide = beyond.filter(pl.col("k") == k).pivot(on="metric", index="model", values="value",
                                                     aggregate_function="first")
        section.table(f"Coverage, diversity and novelty at k = {k}", wide,
                      {"coverage": "pct", "diversity": "pct", "novelty": ".2f"})
    return section


# ---------------------------------------------------------------------------- 7. Experiments

def experiments(wh: Warehouse) -> Section:
    section = Section(
        "experiments", "Experiments",
        "Each variant against the control: the relative lift in conversion with its confidence interval, "
        "the p-value, and the sample-ratio-mismatch (SRM) check of the assignment.",
        "A lift whose interval excludes 0% is significant at the stated confidence level. If SRM says "
        "'MISMATCH', users were not split as designed: do not trust that experiment's lift.",
    )
    with section.part("Lift"):
        results = wh.query(
            """select experiment_id, variant, users, conversion_rate, relative_lift, relative_lift_ci_low,
                   relative_lift_ci_high, p_value,
                   case when has_sample_ratio_mismatch then 'MISMATCH' else 'ok' end as srm, srm_p_value
            from {fct_experiment_results} order by experiment_id, is_control desc, variant""",
            {"fct_experiment_results": ["experiment_id", "variant", "users", "conversion_rate", "relative_lift",
                                        "relative_lift_ci_low", "relative_lift_ci_high", "p_value",
                                        "has_sample_ratio_mismatch", "srm_p_value", "is_control"]},
        )
        lifts = results.filter(pl.col("relative_lift").is_not_null()).with_columns(
            label=pl.col("experiment_id") + ": " + pl.col("variant"))
        if lifts.is_empty():
            raise MissingData("no variant has a lift yet (only controls, or no complete conversion window)")
        fig = charts.figure("experiment: variant vs control", "relative lift in conversion", y_format=".0%",
                            height=340)
        fig.add_scatter(x=lifts["label"].to_list(), y=lifts["relative_lift"].to_list(), mode="markers",
                        name="relative lift", marker={"size": 14, "color": charts.PALETTE[0]},
                        error_y=charts.error_bars(lifts, "relative_lift", "relative_lift_ci_low", "relative_lift_ci_high"))
        fig.add_hline(y=0, line={"color": "#000000", "width": 1})
        section.chart("Relative lift in conversion with confidence interval", fig)
        interval = (pl.lit("[") + (pl.col("relative_lift_ci_low") * 100).round(1).cast(pl.String) + "%, "
                    + (pl.col("relative_lift_ci_high") * 100).round(1).cast(pl.String) + "%]")
        table = results.select("experiment_id", "variant", "users", "conversion_rate", "relative_lift",
                               interval.alias("confidence_interval"), "p_value", "srm", "srm_p_value")
        section.table("Variants", table, {"conversion_rate": "pct", "relative_lift": "pct", "p_value": ".4f",
                                          "srm_p_value": ".4f"})
    return section


# --------------------------------------------------------------------- 8. Segments and actions

def segments_and_actions(wh: Warehouse) -> Section:
    section = Section(
        "segments", "Segments and next-best actions",
        "RFM segments (recency, frequency, monetary scores) with their size and value, and the next-best "
        "action chosen for every customer by the marketing rules, with the value at stake.",
        "Value at stake is churn probability x predicted CLV: what a retention action could save. Spend effort "
        "where the value at stake is large, not where the audience is large. Each action is a CRM audience "
        "file in exports/audiences/.",
    )
    for table in ("ml_customer_segments", "fct_next_best_actions"):
        section.degraded(table, wh.degraded(table))
    with section.part("Segments"):
        needs = {"ml_customer_segments": ["customer_id", "rfm_segment"]}
        value = "null"
        if wh.has("fct_customer_clv", ("customer_id", "predicted_clv", "historical_clv")):
            needs["fct_customer_clv"] = ["customer_id", "predicted_clv", "historical_clv"]
            value = "c.historical_clv"
        predicted = "c.predicted_clv" if "fct_customer_clv" in needs else "null"
        join = "left join {fct_customer_clv} c using (customer_id)" if "fct_customer_clv" in needs else ""
        segments = wh.query(
            f"""select s.rfm_segment, count(*) as customers, count(*) / sum(count(*)) over () as share,
                   avg({value}) as mean_historical_clv, avg({predicted}) as mean_predicted_clv,
                   sum({predicted}) as total_predicted_clv
            from {{ml_customer_segments}} s {join} group by 1 order by customers desc""", needs,
        )
        fig = charts.figure("customers", "", height=max(300, 30 * segments.height + 100))
        fig.add_bar(x=segments["customers"].to_list()[::-1], y=segments["rfm_segment"].to_list()[::-1],
                    orientation="h", marker_color=charts.PALETTE[0], name="customers")
        fig.update_layout(margin={"l": 170})
        section.chart("Customers per RFM segment", fig)
        section.table("Segments by size and value (currency per customer)", segments,
                      {"share": "pct", "mean_historical_clv": "money", "mean_predicted_clv": "money",
                       "total_predicted_clv": "money"})
    with section.part("Next-best actions"):
        actions = wh.query(
            """select action, count(*) as customers, sum(expected_value_at_stake) as value_at_stake,
                   avg(coupon_value) as mean_coupon_percent
            from {fct_next_best_actions} group by 1 order by value_at_stake desc""",
            {"fct_next_best_actions": ["action", "expected_value_at_stake", "coupon_value"]},
        )
        fig = charts.figure("next-best action", "value at stake (currency)")
        fig.add_bar(x=actions["action"].to_list(), y=actions["value_at_stake"].to_list(), name="value at stake",
                    marker_color=charts.PALETTE[2], text=[f"{n:,} customers" for n in actions["customers"]],
                    textposition="outside")
        section.chart("Value at stake per next-best action (churn probability x predicted CLV, summed)", fig)
        section.table("Actions (each is an audience export)", actions,
                      {"value_at_stake": "money", "mean_coupon_percent": ".1f"})
    return section


# --------------------------------------------------------- later capabilities (when they exist)

def _optional(key: str, title: str, words: tuple[str, ...], what: str) -> Callable[[Warehouse], Section | None]:
    """A section for a later capability: shown only when tables whose names contain `words` exist."""

    def build(wh: Warehouse) -> Section | None:
        tables = [t for t in wh.tables() if any(w in t for w in words)]
        if not tables:
            return None
        section = Section(key, title, what + " Tables: " + ", ".join(tables) + ".",
                          "Row counts show what this build produced; the preview shows the first rows of each table.")
        counts = pl.DataFrame({"table": tables, "rows": [
            wh.scalar(f"select count(*) from {wh.qualified(t)}") for t in tables]})
        with section.part("Row counts"):
            section.chart("Rows per table", charts.bars_by_group(counts, "table", "rows", None, x_title="table",
                                                                 y_title="rows"))
        section.table("Tables", counts)
        for t in tables:
            section.degraded(t, wh.degraded(t))
            with section.part(t):
                section.table(f"{t} (first rows)", wh.query("select * from {" + t + "} limit 8", {t: []}))
        return section

    return build


pricing = _optional("pricing", "Pricing", ("price", "elasticity", "demand_forecast"),
                    "Price elasticity, demand forecasts and price recommendations.")
review_sentiment = _optional("sentiment", "Review sentiment", ("sentiment", "review_aspect"),
                             "Sentiment and aspects of product reviews.")

CORE_SECTIONS: tuple[Callable[[Warehouse], Section], ...] = (
    kpis, retention, acquisition, customer_value, churn, recommendations, experiments, segments_and_actions,
)
OPTIONAL_SECTIONS: tuple[tuple[str, Callable[[Warehouse], Section | None]], ...] = (
    ("Pricing", pricing), ("Review sentiment", review_sentiment),
)
