"""Consistency and planted-truth checks for customer segments (ml_customer_segments,
ml_customer_cluster_profiles) on the built simulated warehouse.

The RFM scores and the seed's rules are recomputed here in plain SQL, independently of the
Python implementation, and must agree customer by customer.
"""

from __future__ import annotations


def _scalar(warehouse, sql: str):
    return warehouse.execute(sql).fetchone()[0]


def test_every_customer_with_a_completed_order_has_exactly_one_segment(warehouse):
    rows, distinct, customers, missing, extra = warehouse.execute(
        """
        select
            (select count(*) from ml.ml_customer_segments),
            (select count(distinct customer_id) from ml.ml_customer_segments),
            (select count(*) from marts.dim_customers where completed_orders >= 1),
            (select count(*) from marts.dim_customers d where completed_orders >= 1
               and not exists (select 1 from ml.ml_customer_segments s where s.customer_id = d.customer_id)),
            (select count(*) from ml.ml_customer_segments s
               where not exists (select 1 from marts.dim_customers d
                                 where d.customer_id = s.customer_id and d.completed_orders >= 1))
        """
    ).fetchone()
    assert rows == distinct == customers > 1000
    assert missing == extra == 0
    nulls = _scalar(
        warehouse,
        "select count(*) from ml.ml_customer_segments where rfm_segment is null or cluster_id is null",
    )
    assert nulls == 0


def test_rfm_scores_follow_the_documented_quantile_formula(warehouse):
    # score = 1 + floor(5 x (rank - 1) / n), rank with ties at their lowest rank, best = high.
    mismatched = _scalar(
        warehouse,
        """
        with buyers as (
            select customer_id, days_since_last_order, completed_orders, revenue
            from marts.dim_customers where completed_orders >= 1
        ),
        scored as (
            select
                customer_id,
                least(5, 1 + floor(5.0 * (rank() over (order by days_since_last_order desc) - 1) / count(*) over ())) as r,
                least(5, 1 + floor(5.0 * (rank() over (order by completed_orders) - 1) / count(*) over ())) as f,
                least(5, 1 + floor(5.0 * (rank() over (order by revenue) - 1) / count(*) over ())) as m
            from buyers
        )
        select count(*)
        from scored join ml.ml_customer_segments s using (customer_id)
        where s.recency_score <> scored.r or s.frequency_score <> scored.f or s.monetary_score <> scored.m
        """,
    )
    assert mismatched == 0


def test_segments_reproduce_the_seed_rules(warehouse):
    # First rule by priority whose three inclusive ranges contain the customer's scores.
    mismatched, other = warehouse.execute(
        """
        with matches as (
            select s.customer_id, s.rfm_segment, r.segment_name,
                   row_number() over (partition by s.customer_id order by r.priority) as pick
            from ml.ml_customer_segments s
            left join seeds.rfm_segments r
              on s.recency_score between r.recency_min and r.recency_max
             and s.frequency_score between r.frequency_min and r.frequency_max
             and s.monetary_score between r.monetary_min and r.monetary_max
        )
        select count(*) filter (where segment_name is distinct from rfm_segment),
               count(*) filter (where rfm_segment = 'other')
        from matches where pick = 1
        """
    ).fetchone()
    assert mismatched == 0
    assert other == 0
    segments = _scalar(warehouse, "select count(distinct rfm_segment) from ml.ml_customer_segments")
    assert segments >= 5


def test_cluster_profiles_add_up_to_the_segmented_customers(warehouse):
    share_total, profile_customers, clusters, k_values = warehouse.execute(
        "select sum(share), sum(n_customers), count(*), count(distinct k) from ml.ml_customer_cluster_profiles"
    ).fetchone()
    assert abs(share_total - 1) < 1e-9
    assert profile_customers == _scalar(warehouse, "select count(*) from ml.ml_customer_segments")
    assert k_values == 1
    assert clusters == _scalar(warehouse, "select max(k) from ml.ml_customer_cluster_profiles")
    assert 3 <= clusters <= 8  # default var segments_k_range
    disagreeing = _scalar(
        warehouse,
        """
        select count(*) from ml.ml_customer_cluster_profiles p
        full join (select cluster_id, count(*) as n, min(cluster_label) as label
                   from ml.ml_customer_segments group by cluster_id) s using (cluster_id)
        where p.n_customers is distinct from s.n or p.cluster_label is distinct from s.label
        """,
    )
    assert disagreeing == 0


def test_recent_frequent_buyers_are_alive_more_often_than_lapsed_frequent_buyers(warehouse, raw_path):
    # Planted: the simulator records who is still alive at the window end. Champions (recent,
    # frequent) must be alive far more often than frequent buyers who stopped coming
    # (at_risk, cant_lose_them). One-order segments are not compared: the BG/NBD process never
    # lets a customer die before their first repeat purchase.
    alive = dict(
        warehouse.execute(
            f"""
            select case when rfm_segment = 'champions' then 'recent' else 'lapsed' end,
                   avg(case when t.is_alive_at_end then 1.0 else 0.0 end)
            from ml.ml_customer_segments s
            join read_parquet('{raw_path / "_truth_customers.parquet"}') t using (customer_id)
            where rfm_segment in ('champions', 'at_risk', 'cant_lose_them')
            group by 1
            """
        ).fetchall()
    )
    print(alive)
    assert alive["recent"] > alive["lapsed"] + 0.3  # observed 0.88 vs 0.22


def test_the_simulated_shop_is_clustered_not_degraded(warehouse):
    # Thousands of customers with varied behaviour: k-means must not take the one-cluster fallback.
    for table in ("ml_customer_segments", "ml_customer_cluster_profiles"):
        assert warehouse.execute(f"select distinct status, status_reason from ml.{table}").fetchall() == [("ok", None)]
