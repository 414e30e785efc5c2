"""Reviews: ratings driven by the same satisfaction that (with effects) raises dropout.

A share of completed order lines is reviewed a few days after the order. The rating is the
latent satisfaction + N(0, sd) cut at fixed thresholds into 1..5 stars, so low ratings are a
leading indicator of churn. Text comes from small rating-specific templates, Chinese for
customers in CN and English elsewhere. A review depends on its order line and the customer's
satisfaction only, never on later orders.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecom_growth.simulator.baskets import Lines
from ecom_growth.simulator.config import SimulationConfig
from ecom_growth.simulator.purchases import COMPLETED, Orders

TEMPLATES_EN: dict[int, tuple[str, ...]] = {
    1: ("Broke after a week", "Terrible quality, do not buy", "Not as described, very disappointed", "Waste of money"),
    2: ("Poor quality for the price", "Arrived damaged, meh", "Expected much better", "Does not work well"),
    3: ("It's okay", "Average, does the job", "Decent but nothing special", "Fine for the price"),
    4: ("Good product, would buy again", "Works well, fast delivery", "Nice quality", "Pretty happy with it"),
    5: ("Love it, great quality", "Excellent, exactly what I needed", "Perfect, highly recommend", "Best purchase this year"),
}
TEMPLATES_ZH: dict[int, tuple[str, ...]] = {
    1: ("用了一周就坏了", "质量太差，不要买", "与描述不符，非常失望"),
    2: ("质量一般，不值这个价", "收到时有损坏", "比预期差很多"),
    3: ("还可以", "一般般，能用", "中规中矩"),
    4: ("不错，会回购", "好用，发货快", "质量挺好"),
    5: ("质量很好，非常满意", "太棒了，强烈推荐", "完美，物超所值"),
}
CHINESE_COUNTRIES = ("CN",)


def review_templates() -> tuple[list[str], np.ndarray, np.ndarray]:
    """Flat template list plus (language, rating) -> (offset, count) lookups."""
    labels: list[str] = []
    offset = np.zeros((2, 6), dtype=np.int64)
    count = np.zeros((2, 6), dtype=np.int64)
    for language, templates in enumerate((TEMPLATES_EN, TEMPLATES_ZH)):
        for rating in range(1, 6):
            offset[language, rating] = len(labels)
            count[language, rating] = len(templates[rating])
            labels.extend(templates[rating])
    return labels, offset, count


def ratings_from_satisfaction(rng: np.random.Generator, config: SimulationConfig, satisfaction: np.ndarray) -> np.ndarray:
    latent = satisfaction + config.satisfaction.rating_noise_sd * rng.standard_normal(satisfaction.size)
    return (1 + np.searchsorted(np.asarray(config.satisfaction.rating_cutpoints), latent)).astype(np.int32)


@dataclass
class PeriodReviews:
    """Reviews of one period's order lines (construction order; the caller filters and ids them)."""

    customer: np.ndarray
    product: np.ndarray
    rating: np.ndarray  # int32 1..5
    template: np.ndarray  # index into review_templates()[0]
    created_days: np.ndarray  # may lie past the window end


def period_reviews(
    rng: np.random.Generator, config: SimulationConfig, orders: Orders, lines: Lines, satisfaction: np.ndarray,
    country: np.ndarray,
) -> PeriodReviews:
    """A share of the completed lines is reviewed a few days later, rated from satisfaction only."""
    cfg = config.reviews
    completed = orders.status[lines.order] == COMPLETED
    reviewed = np.flatnonzero(completed & (rng.random(lines.order.size) < cfg.probability_per_completed_line))
    order = lines.order[reviewed]
    customer = orders.customer[order]
    created = orders.days[order] + cfg.delay_min_days + rng.exponential(cfg.delay_mean_extra_days, reviewed.size)
    rating = ratings_from_satisfaction(rng, config, satisfaction[customer])
    _, offset, count = review_templates()
    chinese_codes = [i for i, (code, _) in enumerate(config.countries) if code in CHINESE_COUNTRIES]
    language = np.isin(country[customer], chinese_codes).astype(np.int64)
    pick = offset[language, rating] + (rng.random(rating.size) * count[language, rating]).astype(np.int64)
    return PeriodReviews(customer=customer, product=lines.product[reviewed], rating=rating, template=pick,
                         created_days=created)
