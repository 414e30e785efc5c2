"""The text layer: review sentiment and aspects, ticket intents, text features for churn.

Plain functions, polars in and out; the dbt Python models in models/ml/text only wire tables
to them. See sentiment.py (the model), aspects.py + lexicon.py (aspects and their polarity),
reviews.py (the ml_review_sentiment table), evaluation.py (ml_text_model_evaluation).
"""

from ecom_growth.text.evaluation import evaluate_sentiment
from ecom_growth.text.reviews import review_sentiment_table

__all__ = ["evaluate_sentiment", "review_sentiment_table"]
