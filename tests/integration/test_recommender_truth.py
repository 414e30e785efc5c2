"""The recommender tables against the issue's bars, on the simulated test build."""


def _metric(warehouse, model: str, metric: str, k: int) -> float:
    return warehouse.execute(
        "select value from ml.ml_recommender_evaluation where model = ? and metric = ? and k = ? and is_selected",
        [model, metric, k],
    ).fetchone()[0]


def test_als_beats_most_popular_by_half_on_the_temporal_holdout(warehouse):
    als, popular = _metric(warehouse, "als", "ndcg", 10), _metric(warehouse, "most_popular", "ndcg", 10)
    assert als >= 1.5 * popular, f"ALS NDCG@10 {als:.4f} vs most popular {popular:.4f} ({als / popular:.2f}x)"


def test_every_customer_gets_exactly_n_recommendations(warehouse):
    n_customers = warehouse.execute("select count(*) from marts.dim_customers").fetchone()[0]
    per_customer = warehouse.execute(
        "select count(*) as n, count(distinct customer_id) as customers, min(rows), max(rows) from ("
        " select customer_id, count(*) as rows from ml.ml_recommendations group by customer_id)"
    ).fetchone()
    assert per_customer[1] == n_customers
    assert per_customer[2] == per_customer[3] == 10


def test_no_already_purchased_product_is_recommended(warehouse):
    leaked = warehouse.execute(
        """
        select count(*) from ml.ml_recommendations as r
        inner join marts.fct_user_item_interactions as i
            on r.customer_id = i.customer_id and r.product_id = i.product_id
        where i.purchase_count > 0
        """
    ).fetchone()[0]
    assert leaked == 0
