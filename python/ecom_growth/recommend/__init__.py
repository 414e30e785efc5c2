"""Product recommendations: implicit-feedback ALS, baselines, top-N with cold start, evaluation.

Typical use (what the dbt models in models/ml/ do)::

    fitted = fit_recommender(interactions, weighting="bm25", factors=32)
    recs = recommend_top_n(fitted.model, fitted.matrix, fitted.maps, customers,
                           interactions=interactions, n=10)
    similar = similar_products(fitted.model, fitted.maps, n=10)
    report = evaluate_recommenders(train, labels, customers=..., products=..., config=...)

Modules: ``matrix`` (ids + confidence matrix), ``als`` (fit, exact user solve), ``store`` (the
final model as factor tables), ``serve`` (what ml_recommendations / ml_similar_products return),
``baselines`` (popularity), ``knn`` (item kNN), ``topn`` (recommendations + similar products),
``metrics`` (ranking, diversity, novelty), ``bootstrap`` (confidence intervals over users),
``evaluation`` (validation / test comparison), ``synthetic`` (low-rank test data).
"""

from ecom_growth.recommend.als import FittedRecommender, fit_als, fit_recommender
from ecom_growth.recommend.baselines import popularity
from ecom_growth.recommend.evaluation import (
    EVALUATION_SCHEMA,
    EvaluationConfig,
    evaluate_recommenders,
    relevant_items,
    temporal_split,
)
from ecom_growth.recommend.knn import ItemKNN, fit_item_knn
from ecom_growth.recommend.matrix import (
    IdMaps,
    confidence,
    indicator_matrix,
    interaction_matrix,
    purchased_pairs,
)
from ecom_growth.recommend.metrics import ranking_metrics
from ecom_growth.recommend.synthetic import synthetic_purchases
from ecom_growth.recommend.topn import (
    RECOMMENDATION_SCHEMA,
    SIMILAR_SCHEMA,
    recommend_top_n,
    similar_products,
)

__all__ = [
    "EVALUATION_SCHEMA",
    "RECOMMENDATION_SCHEMA",
    "SIMILAR_SCHEMA",
    "EvaluationConfig",
    "FittedRecommender",
    "IdMaps",
    "ItemKNN",
    "confidence",
    "evaluate_recommenders",
    "fit_als",
    "fit_item_knn",
    "fit_recommender",
    "indicator_matrix",
    "interaction_matrix",
    "popularity",
    "purchased_pairs",
    "ranking_metrics",
    "recommend_top_n",
    "relevant_items",
    "similar_products",
    "synthetic_purchases",
    "temporal_split",
]
