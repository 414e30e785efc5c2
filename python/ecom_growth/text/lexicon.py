"""A small bilingual polarity lexicon with negation, for the polarity of short clauses.

The sentiment model is trained on whole reviews against star ratings, so it reads a clause as
if it were a whole review (a lone "It's okay" leans positive, because most reviews are). A
clause names one thing, and generic opinion words decide its polarity far better: "slow",
"broke", "rude", "不错", "太贵"... Rules, applied in order on the lower-cased clause, each
removing what it matched: fixed phrases, negated opinion words ("not bad", "not on time",
"不太好", "不贵": the negator flips the word within two words / one modifier), plain opinion
words, neutral cues ("okay", "so-so", "一般"). Score = sum of polarities of the hits; a clause
with no hit at all has no lexicon polarity (null) and falls back to the model.
"""

from __future__ import annotations

import polars as pl

POS_EN = r"great|excellent|good|love|perfect(?:ly)?|well|fast|quick(?:ly)?|early|helpful|friendly|sturdy|solid" \
         r"|worth|right|happy|recommend|exactly|on time|fits?|sorted|nice|\bcheap\b"
NEG_EN = r"poor|bad|terrible|broke|broken|disappoint\w*|flimsy|slow|forever|late|waiting|crushed|overpriced" \
         r"|expensive|waste|rude|useless|wrong|\boff\b|too big|too small|runs small|runs large|stopped working|realy bad"
NEUTRAL_EN = r"okay|\bok\b|average|so-so|nothing special|decent|fair|what you'd expect|reasonabl\w*|nothing more"
NEGATOR_EN = r"(?:\bnot|\bnever|\bno|n't|\bnobody)\s+(?:\w+\s+){0,2}?"
POS_ZH = r"好|不错|棒|满意|快|及时|给力|精细|值|实惠|合适|合身|标准|热心|一样|完好|第二天就到|专业"
NEG_ZH = r"差|坏|失望|不符|粗糙|慢|晚|好久|贵|偏高|偏小|太大|不准|不理人|没人"
NEUTRAL_ZH = r"一般|还可以|还行|中规中矩|能用"
NEGATOR_ZH = r"(?:不|没)(?:太|很|是|够)?"

NOT_OPINIONS = r"快递|好久不见"

# (pattern, polarity); order matters: earlier rules consume their text first.
RULES: tuple[tuple[str, int], ...] = (
    (r"not great,? not terrible", 0),
    (r"not as described|do not buy|never replied|nobody answered|性价比不高|不值", -1),
    (r"exactly as described|性价比很高|物超所值|不错|不贵|不差", 1),
    (rf"{NEGATOR_EN}(?:{POS_EN})", -1),
    (rf"{NEGATOR_EN}(?:{NEG_EN})", 1),
    (rf"{NEGATOR_ZH}(?:{POS_ZH})", -1),
    (rf"{NEGATOR_ZH}(?:{NEG_ZH})", 1),
    (rf"{NEG_EN}|{NEG_ZH}", -1),
    (rf"{POS_EN}|{POS_ZH}", 1),
    (rf"{NEUTRAL_EN}|{NEUTRAL_ZH}", 0),
)


def lexicon_polarity(clauses: pl.Series) -> pl.Series:
    """Per clause: sign of the summed lexicon polarities (-1, 0, 1), or null without any hit."""
    # Nouns that contain an opinion character (快递 "courier" holds 快 "fast") are not opinions.
    frame = pl.DataFrame({"text": clauses.fill_null("").str.to_lowercase().str.replace_all(NOT_OPINIONS, " ")})
    score, hits = pl.lit(0, pl.Int32), pl.lit(0, pl.Int32)
    exprs = []
    for i, (pattern, polarity) in enumerate(RULES):
        frame = frame.with_columns(pl.col("text").str.count_matches(pattern).cast(pl.Int32).alias(f"n{i}"),
                                   pl.col("text").str.replace_all(pattern, " | "))
        exprs.append((pl.col(f"n{i}"), polarity))
    for count, polarity in exprs:
        score, hits = score + polarity * count, hits + count
    return frame.select(pl.when(hits > 0).then(score.sign()).cast(pl.Int8).alias("lexicon_polarity")).to_series()
