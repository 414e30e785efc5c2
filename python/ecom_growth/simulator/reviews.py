"""Reviews: ratings and texts driven by the customer's satisfaction and by what happened to the order.

A share of completed order lines is reviewed a few days after the order. Per review:

* the order's own experience is drawn when the order is placed: a late delivery
  (``late_delivery_probability``) and a bad contact with customer service
  (``service_problem_probability``);
* the rating is satisfaction + N(0, sd) + the (negative) rating shifts of those two problems,
  cut at fixed thresholds into 1..5 stars;
* the text mentions up to five aspects (product quality, delivery, price/value, customer
  service, size/fit for apparel-like categories), each with a planted polarity (-1, 0, +1):
  quality and value follow the latent score, delivery and service follow the order's problems,
  size/fit its own draw. Each (language, aspect, polarity) has a bank of phrasings, with
  negation ("not bad", "不太好"), intensity ("absolutely love", "非常"), a few typos, emoji;
  aspects appear in random order, so lengths run from a few words to a few sentences;
* the planted sentiment of the text is the sign of the sum of its aspect polarities
  (a mixed review, good product and late delivery, is neutral).

Beyond the rating: when a review complains about delivery or customer service, the customer
quits (stops ordering) with ``quit_probability_*`` from the later of the review's creation and
the end of the period in which the reviewed order was placed, i.e. only after the complaint is
written and from a time that no earlier draw depends on. A product-quality complaint has no
extra effect (its satisfaction already acts on dropout), so at the same rating a delivery or
service complaint raises dropout more than a product complaint. Chinese for customers in CN,
English elsewhere. A review depends on its order line and the customer's state only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ecom_growth.simulator.baskets import Lines
from ecom_growth.simulator.config import SimulationConfig
from ecom_growth.simulator.ids import take_strings
from ecom_growth.simulator.purchases import COMPLETED, Orders

ASPECTS = ("product_quality", "delivery", "price_value", "customer_service", "size_fit")
QUALITY, DELIVERY, VALUE, SERVICE, SIZE = range(len(ASPECTS))
LANGUAGES = ("en", "zh")
SENTIMENT_LABELS = ("negative", "neutral", "positive")
NOT_MENTIONED = -2  # polarity code of an aspect the review does not mention
SIZED_CATEGORIES = ("fashion", "sports_outdoors")
CHINESE_COUNTRIES = ("CN",)

# (language, aspect, polarity) -> phrasings. English pieces are sentences; Chinese pieces end
# with a comma (the last one becomes a full stop). Typos and negations are deliberate.
PHRASES: dict[tuple[str, int, int], tuple[str, ...]] = {
    ("en", QUALITY, 1): ("Great quality.", "Excellent build quality!", "Really well made.", "Works perfectly.",
                         "Absolutely love it, top quality.", "Quality is not bad at all.", "Very good qualty.",
                         "Solid and sturdy, exactly as described.", "Does exactly what it should."),
    ("en", QUALITY, 0): ("It's okay.", "Average quality, does the job.", "Nothing special.", "Decent, I guess.",
                         "Quality is so-so.", "Not great, not terrible."),
    ("en", QUALITY, -1): ("Poor quality.", "Broke after a week.", "Terrible quality, do not buy.",
                          "Not as described, very disappointed.", "Cheaply made and flimsy.",
                          "The quality is not good.", "Stopped working after two days.", "Realy bad quality."),
    ("en", DELIVERY, 1): ("Fast delivery.", "Arrived a day early.", "Shipping was quick.", "Delivery was super fast!",
                          "Arrived on time and well packed.", "Delivery was not slow at all."),
    ("en", DELIVERY, -1): ("Delivery took forever.", "Arrived two weeks late.", "Shipping was very slow.",
                           "The parcel was late and the box was crushed.", "Still waiting for half of my order.",
                           "Delivery was not on time.", "Late delivry again."),
    ("en", VALUE, 1): ("Great value for money.", "Worth every penny.", "Good price.", "Cheap and good.",
                       "Not expensive for what you get."),
    ("en", VALUE, 0): ("Fair price.", "Price is about what you'd expect.", "Reasonably priced, nothing more."),
    ("en", VALUE, -1): ("Overpriced.", "Not worth the money.", "Way too expensive for what it is.",
                        "Poor value.", "Waste of money."),
    ("en", SERVICE, 1): ("Customer service was very helpful.", "Support answered quickly and sorted it out.",
                         "Friendly customer service.", "The seller was really helpful."),
    ("en", SERVICE, -1): ("Customer service never replied.", "Support was rude and useless.",
                          "Nobody answered my emails.", "Customer service was not helpful at all.",
                          "Terrible support, I had to call five times."),
    ("en", SIZE, 1): ("Fits perfectly.", "True to size.", "The size is just right.", "Fit is great."),
    ("en", SIZE, -1): ("Runs small, had to return it.", "Too big.", "The size chart is wrong.",
                       "Doesn't fit at all.", "Sizing is off."),
    ("zh", QUALITY, 1): ("质量很好，", "做工精细，", "非常好用，", "质量不错，", "质量非常棒，", "用起来不差，",
                         "和描述一样，很满意，"),
    ("zh", QUALITY, 0): ("还可以，", "一般般，能用，", "中规中矩，", "质量一般，"),
    ("zh", QUALITY, -1): ("质量太差，", "用了一周就坏了，", "与描述不符，非常失望，", "质量不太好，",
                          "做工粗糙，", "两天就坏了，"),
    ("zh", DELIVERY, 1): ("物流很快，", "发货快，", "快递很给力，", "第二天就到了，", "包装完好，送货及时，"),
    ("zh", DELIVERY, -1): ("物流太慢了，", "快递晚了两个星期，", "发货很慢，", "等了好久才到，", "快递不太及时，"),
    ("zh", VALUE, 1): ("性价比很高，", "物超所值，", "价格实惠，", "不贵，"),
    ("zh", VALUE, 0): ("价格还行，", "价格一般，"),
    ("zh", VALUE, -1): ("太贵了，", "不值这个价，", "性价比不高，", "价格偏高，"),
    ("zh", SERVICE, 1): ("客服态度很好，", "客服回复很快，", "卖家很热心，"),
    ("zh", SERVICE, -1): ("客服不理人，", "客服态度很差，", "联系客服没人回复，", "客服不太专业，"),
    ("zh", SIZE, 1): ("尺码标准，", "大小合适，", "很合身，"),
    ("zh", SIZE, -1): ("尺码偏小，", "太大了，", "尺码不准，", "不合身，"),
}
EMOJI: dict[int, tuple[str, ...]] = {1: ("👍", "😊", "❤️"), 0: ("🤔",), -1: ("😡", "👎", "😞")}


@dataclass(frozen=True)
class PhraseBank:
    """Flat phrase list (index 0 is the empty string) and (language, aspect, polarity) lookups."""

    labels: list[str]
    offset: np.ndarray  # (language, aspect, polarity + 1) -> first index (0: no phrasing)
    count: np.ndarray  # same shape: number of phrasings
    emoji_offset: np.ndarray  # (sentiment + 1) -> first index
    emoji_count: np.ndarray


def phrase_bank() -> PhraseBank:
    labels = [""]
    offset = np.zeros((len(LANGUAGES), len(ASPECTS), 3), dtype=np.int64)
    count = np.zeros_like(offset)
    for (language, aspect, polarity), phrases in PHRASES.items():
        key = (LANGUAGES.index(language), aspect, polarity + 1)
        offset[key], count[key] = len(labels), len(phrases)
        labels.extend(phrases)
    emoji_offset, emoji_count = np.zeros(3, np.int64), np.zeros(3, np.int64)
    for sentiment, marks in EMOJI.items():
        emoji_offset[sentiment + 1], emoji_count[sentiment + 1] = len(labels), len(marks)
        labels.extend(marks)
    return PhraseBank(labels, offset, count, emoji_offset, emoji_count)


@dataclass
class PeriodReviews:
    """Reviews of one period's order lines (construction order; the caller filters and ids them)."""

    customer: np.ndarray
    product: np.ndarray
    rating: np.ndarray  # int32 1..5
    language: np.ndarray  # int8 index into LANGUAGES
    polarity: np.ndarray  # (n, len(ASPECTS)) int8 in {-1, 0, 1} or NOT_MENTIONED
    pieces: np.ndarray  # (n, len(ASPECTS) + 1) int64 indices into phrase_bank().labels, text order
    created_days: np.ndarray  # may lie past the window end
    quits: np.ndarray  # bool: the complaint makes the customer quit (beyond the rating)


def _polarity(latent: np.ndarray, threshold: float) -> np.ndarray:
    return np.where(latent > threshold, 1, np.where(latent < -threshold, -1, 0)).astype(np.int8)


def period_reviews(
    rng: np.random.Generator, config: SimulationConfig, orders: Orders, lines: Lines, satisfaction: np.ndarray,
    country: np.ndarray, product_category: np.ndarray, category_names: list[str],
) -> PeriodReviews:
    """A share of the completed lines is reviewed a few days later (see the module doc)."""
    cfg = config.reviews
    completed = orders.status[lines.order] == COMPLETED
    reviewed = np.flatnonzero(completed & (rng.random(lines.order.size) < cfg.probability_per_completed_line))
    n = reviewed.size
    order = lines.order[reviewed]
    customer = orders.customer[order]
    product = lines.product[reviewed]
    created = orders.days[order] + cfg.delay_min_days + rng.exponential(cfg.delay_mean_extra_days, n)
    latent = satisfaction[customer] + config.satisfaction.rating_noise_sd * rng.standard_normal(n)
    late = rng.random(n) < cfg.late_delivery_probability
    service_problem = rng.random(n) < cfg.service_problem_probability
    shifted = latent + cfg.rating_shift_late_delivery * late + cfg.rating_shift_service_problem * service_problem
    rating = (1 + np.searchsorted(np.asarray(config.satisfaction.rating_cutpoints), shifted)).astype(np.int32)

    u = rng.random((n, len(ASPECTS)))
    noise = rng.standard_normal((n, 3))
    polarity = np.full((n, len(ASPECTS)), NOT_MENTIONED, dtype=np.int8)
    quality = _polarity(latent + cfg.aspect_noise_sd * noise[:, 0], cfg.neutral_band)
    polarity[:, QUALITY] = np.where(u[:, QUALITY] < cfg.mention_quality, quality, NOT_MENTIONED)
    value = _polarity(latent + cfg.aspect_noise_sd * noise[:, 1], cfg.neutral_band)
    polarity[:, VALUE] = np.where(u[:, VALUE] < cfg.mention_value, value, NOT_MENTIONED)
    delivery_mentioned = u[:, DELIVERY] < np.where(late, cfg.mention_problem, cfg.mention_delivery_ok)
    polarity[:, DELIVERY] = np.where(delivery_mentioned, np.where(late, -1, 1), NOT_MENTIONED)
    service_mentioned = u[:, SERVICE] < np.where(service_problem, cfg.mention_problem, cfg.mention_service_ok)
    polarity[:, SERVICE] = np.where(service_mentioned, np.where(service_problem, -1, 1), NOT_MENTIONED)
    sized_codes = [i for i, name in enumerate(category_names) if name in SIZED_CATEGORIES]
    sized = np.isin(product_category[product], sized_codes)
    fit = np.where(noise[:, 2] + 0.5 * latent > -0.5, 1, -1).astype(np.int8)
    polarity[:, SIZE] = np.where(sized & (u[:, SIZE] < cfg.mention_size_fit), fit, NOT_MENTIONED)
    silent = (polarity == NOT_MENTIONED).all(axis=1)
    polarity[silent, QUALITY] = quality[silent]

    chinese_codes = [i for i, (code, _) in enumerate(config.countries) if code in CHINESE_COUNTRIES]
    language = np.isin(country[customer], chinese_codes).astype(np.int8)
    bank = phrase_bank()
    mentioned = polarity != NOT_MENTIONED
    key = (language[:, None], np.arange(len(ASPECTS))[None, :], np.where(mentioned, polarity, 0) + 1)
    pick = bank.offset[key] + (rng.random((n, len(ASPECTS))) * bank.count[key]).astype(np.int64)
    pick = np.where(mentioned, pick, 0)
    order_in_text = np.argsort(rng.random((n, len(ASPECTS))), axis=1)
    pick = np.take_along_axis(pick, order_in_text, axis=1)
    sentiment = np.sign(np.where(mentioned, polarity, 0).sum(axis=1).astype(np.int64))
    emoji = bank.emoji_offset[sentiment + 1] + (rng.random(n) * bank.emoji_count[sentiment + 1]).astype(np.int64)
    emoji = np.where(rng.random(n) < cfg.emoji_probability, emoji, 0)

    complaint = rng.random(n)
    p_quit = 1.0 - ((1.0 - cfg.quit_probability_delivery_complaint * (polarity[:, DELIVERY] == -1))
                    * (1.0 - cfg.quit_probability_service_complaint * (polarity[:, SERVICE] == -1)))
    return PeriodReviews(customer=customer, product=product, rating=rating, language=language, polarity=polarity,
                         pieces=np.column_stack([pick, emoji]), created_days=created, quits=complaint < p_quit)


def review_sentiment(polarity: np.ndarray) -> np.ndarray:
    """Planted sentiment per review: sign of the summed aspect polarities (-1, 0, 1)."""
    return np.sign(np.where(polarity == NOT_MENTIONED, 0, polarity).sum(axis=1).astype(np.int64))


def render_texts(pieces: np.ndarray, language: np.ndarray) -> pa.StringArray:
    """Review texts from phrase indices (vectorised: Arrow joins, no Python loop per review)."""
    labels = phrase_bank().labels
    columns = [take_strings(labels, pieces[:, j]) for j in range(pieces.shape[1])]
    separator = take_strings([" ", ""], language)
    joined = pc.binary_join_element_wise(*columns, separator)
    joined = pc.utf8_trim_whitespace(pc.replace_substring_regex(joined, r"\s+", " "))
    # Chinese: the last clause ends with a full stop, also before a trailing emoji.
    return pc.replace_substring_regex(joined, r"，([^，\p{Han}]*)$", r"。\1")


REVIEW_PROCESS = (
    "per reviewed completed line: late delivery ~ Bernoulli(late_delivery_probability), service problem ~ "
    "Bernoulli(service_problem_probability); latent = satisfaction + N(0, rating_noise_sd); rating = 1 + "
    "#(cutpoints < latent + rating_shift_late_delivery x late + rating_shift_service_problem x service_problem); "
    "aspects: product_quality (mentioned w.p. mention_quality) and price_value (mention_value) with polarity "
    "sign(latent + N(0, aspect_noise_sd)) and 0 inside +-neutral_band; delivery -1 when late (mentioned w.p. "
    "mention_problem) else +1 (mention_delivery_ok); customer_service -1 on a service problem (mention_problem) "
    "else +1 (mention_service_ok); size_fit for fashion/sports_outdoors (mention_size_fit); a review with no "
    "aspect mentions product_quality; planted sentiment = sign(sum of mentioned polarities). Beyond the rating: "
    "a delivery complaint (delivery polarity -1) makes the customer quit w.p. quit_probability_delivery_complaint, "
    "a service complaint w.p. quit_probability_service_complaint (independently), effective from max(review "
    "created_at, end of the 4-week period of the reviewed order); quitting is a death (died_at in "
    "_truth_customers). Per-review truth: _truth_reviews.parquet"
)
