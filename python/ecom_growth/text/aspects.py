"""Aspects of a review and their polarity: a bilingual lexicon on clauses, scored by the
sentiment model.

A review is cut into clauses at sentence ends (. ! ? 。 ！ ？ ; ；) and at the Chinese comma
(Chinese reviews chain clauses with it; an English comma usually stays inside one thought,
"Runs small, had to return it"). A clause belongs to every aspect whose lexicon pattern it
matches, and to product_quality when it matches none ("Broke after a week" is about the
product). Clauses without a letter or Han character (emoji) are skipped. A clause's polarity
comes from the bilingual opinion lexicon with negation (lexicon.py) and, when no lexicon word
occurs, from the sentiment model's most probable class for the clause; an aspect's score is the
mean polarity of its clauses and its polarity the sign of that (a tie is 0: mixed).
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

ASPECTS = ("product_quality", "delivery", "price_value", "customer_service", "size_fit")
DEFAULT_ASPECT = "product_quality"

# Lower-case regex per aspect (RE2 syntax, English and Chinese). product_quality also catches
# clauses no other aspect claims.
ASPECT_LEXICON: dict[str, str] = {
    "product_quality": r"qualit|qualty|made\b|build|works?\b|working|broke|flimsy|sturdy|described|质量|做工|好用|坏|描述",
    "delivery": r"deliver|delivry|shipping|shipped|arriv|parcel|package|packed|courier|waiting|on time|late\b"
                r"|物流|快递|发货|送货|包装|到了|才到|等了",
    "price_value": r"price|priced|value|money|expensive|\bcheap\b|penny|worth|overpriced|性价比|价|贵|物超所值",
    "customer_service": r"service|support|seller|e-?mails?|replied|answered|refund|\bcall|客服|卖家|回复|售后",
    "size_fit": r"\bsize|sizing|\bfits?\b|too big|too small|runs small|runs large|尺码|尺寸|大小|合身|太大|太小|偏小|偏大",
}
CLAUSE_BREAK = r"[.!?;。！？；，]+"


def split_clauses(reviews: pl.DataFrame) -> pl.DataFrame:
    """(review_id, text) -> one row per clause: review_id, clause_index, clause."""
    return (
        reviews.select(
            "review_id",
            pl.col("review_text").fill_null("").str.replace_all(CLAUSE_BREAK, "\u0001").str.split("\u0001")
            .alias("clause"),
        )
        .with_columns(pl.int_ranges(0, pl.col("clause").list.len()).alias("clause_index"))
        .explode("clause", "clause_index")
        .with_columns(pl.col("clause").str.strip_chars())
        .filter(pl.col("clause").str.contains(r"[\p{L}]"))
        .select("review_id", pl.col("clause_index").cast(pl.Int32), "clause")
    )


def clause_aspects(clauses: pl.DataFrame) -> pl.DataFrame:
    """One row per (clause, aspect) it mentions; unclaimed clauses go to product_quality."""
    lower = pl.col("clause").str.to_lowercase()
    flags = clauses.with_columns([lower.str.contains(pattern).alias(aspect) for aspect, pattern in ASPECT_LEXICON.items()])
    others = [a for a in ASPECTS if a != DEFAULT_ASPECT]
    flags = flags.with_columns(
        (pl.col(DEFAULT_ASPECT) | ~pl.any_horizontal([pl.col(a) for a in others])).alias(DEFAULT_ASPECT)
    )
    return (
        flags.unpivot(index=["review_id", "clause_index", "clause"], on=list(ASPECTS), variable_name="aspect",
                      value_name="is_mentioned")
        .filter(pl.col("is_mentioned"))
        .drop("is_mentioned")
    )


def review_aspects(reviews: pl.DataFrame, clause_polarity: Callable[[pl.Series], pl.Series]) -> pl.DataFrame:
    """review_id, aspect, aspect_score (mean clause polarity in [-1, 1]), polarity (its sign), clauses.

    ``clause_polarity`` maps clause texts to -1 / 0 / 1 (lexicon, then the sentiment model).
    """
    clauses = split_clauses(reviews)
    clauses = clauses.with_columns(clause_polarity(clauses["clause"]).cast(pl.Float64).alias("clause_polarity"))
    return (
        clause_aspects(clauses.select("review_id", "clause_index", "clause"))
        .join(clauses.select("review_id", "clause_index", "clause_polarity"), on=["review_id", "clause_index"])
        .group_by("review_id", "aspect")
        .agg(pl.col("clause_polarity").mean().alias("aspect_score"), pl.len().cast(pl.Int32).alias("clauses"))
        .with_columns(pl.col("aspect_score").sign().cast(pl.Int8).alias("polarity"))
        .sort("review_id", "aspect")
    )
