"""The text layer: review sentiment and aspects, ticket intents, text features for churn.

Plain functions, polars in and out; the dbt Python models in models/ml/text only wire tables
to them. See sentiment.py (the model), aspects.py + lexicon.py (aspects and their polarity),
reviews.py (the ml_review_sentiment table), intents.py (ml_ticket_intents), store.py (the stored
fits ml_review_text_model and ml_ticket_intent_model), evaluation.py
(ml_text_model_evaluation), churn_features.py (text features of the churn snapshots).
"""

from ecom_growth.text.evaluation import evaluate_intents, evaluate_sentiment
from ecom_growth.text.intents import (
    fit_ticket_intents,
    rescore_ticket_intents,
    score_ticket_intents,
    ticket_intents_table,
)
from ecom_growth.text.reviews import fit_review_sentiment, rescore_reviews, review_sentiment_table, score_reviews
from ecom_growth.text.store import TextFit, text_fit_from_table, text_model_table

__all__ = [
    "TextFit", "evaluate_intents", "evaluate_sentiment", "fit_review_sentiment", "fit_ticket_intents",
    "rescore_reviews", "rescore_ticket_intents", "review_sentiment_table", "score_reviews", "score_ticket_intents",
    "text_fit_from_table", "text_model_table", "ticket_intents_table",
]
