"""Every planted parameter of the simulator, in one place, with its default.

The simulator's outputs are a test oracle: each model in the project is checked by recovering
what was planted here. So every number that shapes the data lives in these dataclasses and is
written, as effectively applied, to ``_truth.json`` (see ``SimulationConfig.to_truth``).
``--effects none`` is not a separate code path: it builds the same config with every effect
on purchases neutralised (multipliers 1, shifts 0, lifts 0), so the generator stays one process.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

Effects = Literal["full", "none"]

DEFAULT_START = date(2024, 7, 1)
DEFAULT_END = date(2026, 6, 30)
CHUNK_CUSTOMERS = 100_000
MAX_CUSTOMERS = 90_000_000  # ids are "C" + 8 digits; orphan ids use 99_000_000 and up
MAX_PRODUCTS = 900_000  # ids are "P" + 6 digits; orphan ids use 990_000 and up
MAX_DIRTY_RATE = 0.15


def default_products(customers: int) -> int:
    """A catalogue size that grows with the shop: one product per 20 customers, 300..50k."""
    return int(min(max(customers // 20, 300), 50_000))


@dataclass(frozen=True)
class ChannelConfig:
    """Planted economics and behaviour of one acquisition channel."""

    name: str
    share: float  # share of signups
    conversion_probability: float  # P(first completed order ever), before censoring by the window
    first_order_delay_mean_days: float  # exponential delay signup -> first completed order
    lambda_multiplier: float  # multiplies the BG/NBD purchase rate lambda
    logit_p_shift: float  # added to logit(p) of the BG/NBD dropout probability
    cac_per_signup: float | None  # paid channels only: spend per signup
    browse_sessions_mean: float  # mean browse-only sessions in the browse_horizon_days after signup (besides the signup one)
    add_to_cart_probability: float  # P(add_to_cart | focused product in a browse session)

    @property
    def is_paid(self) -> bool:
        return self.cac_per_signup is not None


DEFAULT_CHANNELS: tuple[ChannelConfig, ...] = (
    ChannelConfig("organic", 0.28, 0.32, 6.0, 1.10, -0.20, None, 1.2, 0.22),
    ChannelConfig("paid_search", 0.24, 0.28, 3.0, 1.00, 0.00, 9.00, 1.0, 0.25),
    ChannelConfig("paid_social", 0.18, 0.16, 9.0, 0.80, 0.35, 6.00, 1.4, 0.12),
    ChannelConfig("affiliate", 0.10, 0.22, 5.0, 0.90, 0.15, 8.00, 1.0, 0.18),
    ChannelConfig("email", 0.10, 0.38, 4.0, 1.15, -0.25, None, 1.3, 0.28),
    ChannelConfig("referral", 0.10, 0.42, 7.0, 1.25, -0.35, None, 1.1, 0.26),
)


@dataclass(frozen=True)
class CategoryConfig:
    name: str
    weight: float  # share of the catalogue
    price_median: float  # lognormal list price at the window start
    price_sigma: float


DEFAULT_CATEGORIES: tuple[CategoryConfig, ...] = (
    CategoryConfig("electronics", 0.10, 120.0, 0.8),
    CategoryConfig("home_kitchen", 0.12, 35.0, 0.7),
    CategoryConfig("beauty", 0.10, 22.0, 0.6),
    CategoryConfig("fashion", 0.14, 40.0, 0.6),
    CategoryConfig("sports_outdoors", 0.08, 45.0, 0.8),
    CategoryConfig("toys_games", 0.08, 25.0, 0.7),
    CategoryConfig("books", 0.10, 14.0, 0.4),
    CategoryConfig("grocery", 0.08, 9.0, 0.5),
    CategoryConfig("pet_supplies", 0.05, 20.0, 0.6),
    CategoryConfig("health", 0.06, 18.0, 0.6),
    CategoryConfig("automotive", 0.04, 40.0, 0.9),
    CategoryConfig("office", 0.05, 15.0, 0.7),
)

DEFAULT_COUNTRIES: tuple[tuple[str, float], ...] = (
    ("US", 0.30), ("GB", 0.10), ("DE", 0.10), ("FR", 0.08), ("CN", 0.14), ("JP", 0.05),
    ("CA", 0.05), ("AU", 0.04), ("NL", 0.03), ("ES", 0.03), ("IT", 0.03), ("BR", 0.02),
    ("IN", 0.01), ("KR", 0.01), ("SE", 0.01),
)


@dataclass(frozen=True)
class BgNbdConfig:
    """Fader, Hardie & Lee (2005): lambda ~ Gamma(r, rate=alpha) per day, p ~ Beta(a, b)."""

    r: float = 0.75
    alpha: float = 60.0
    a: float = 0.9
    b: float = 3.5


@dataclass(frozen=True)
class GammaGammaConfig:
    """Fader, Hardie & Lee (2005) spend: nu ~ Gamma(q, rate=gamma), z ~ Gamma(p, rate=nu)."""

    p: float = 4.0
    q: float = 4.0
    gamma: float = 60.0

    @property
    def mean_order_value(self) -> float:
        return self.p * self.gamma / (self.q - 1.0)


@dataclass(frozen=True)
class SignupConfig:
    # ``customers`` is the number of signups in the first scale_days days from the start; the
    # same intensity continues after that. Defined from the start only, so a shorter window is
    # a prefix of a longer one (exactly ``customers`` signups for the default two-year window).
    scale_days: int = 730
    growth_log_rate_per_year: float = 0.5  # signups/day grow as exp(g * years)
    yearly_amplitude: float = 0.15
    yearly_peak_day_of_year: float = 330.0  # late November
    weekday_weights: tuple[float, ...] = (1.05, 1.00, 1.00, 0.98, 0.95, 0.92, 1.10)  # Mon..Sun
    hour_weights: tuple[float, ...] = (
        0.3, 0.2, 0.15, 0.1, 0.1, 0.15, 0.3, 0.6, 0.9, 1.0, 1.1, 1.2,
        1.3, 1.2, 1.1, 1.1, 1.2, 1.3, 1.5, 1.7, 1.8, 1.6, 1.1, 0.6,
    )


@dataclass(frozen=True)
class SeasonalityConfig:
    """Purchase intensity s(t) = 1 + A cos(2 pi (day_of_year - peak) / 365.25).

    Applied as a time change: BG/NBD runs in operational time S(t) = integral of s, so the
    process is exactly BG/NBD in S-time and dropout still happens only after purchases.
    """

    purchase_yearly_amplitude: float = 0.25
    purchase_peak_day_of_year: float = 335.0  # early December


@dataclass(frozen=True)
class SatisfactionConfig:
    """Per-customer satisfaction ~ N(0, 1): drives review ratings and, if effects act, dropout."""

    dropout_logit_per_sd: float = -0.6  # logit(p) += this * satisfaction (unhappy -> churn)
    rating_noise_sd: float = 0.8  # review latent = satisfaction + N(0, sd)
    rating_cutpoints: tuple[float, ...] = (-1.8, -1.1, -0.4, 0.3)  # latent -> 1..5 stars


@dataclass(frozen=True)
class TasteConfig:
    """Low-rank taste: score(u, i) = taste_scale * U_u . V_i, V_i = M_category + sd * noise."""

    rank: int = 12
    category_temperature: float = 3.0  # P(category | u) = softmax(temp * U_u . M_c)
    item_noise_sd: float = 0.6  # per-dimension sd of V_i around its category centroid
    taste_scale: float = 1.5
    country_offset_sd: float = 0.4
    channel_offset_sd: float = 0.3
    candidates: int = 8  # candidate set per choice (popularity-weighted within category)
    popularity_zipf_exponent: float = 0.75
    rebuy_probability: float = 0.30  # line of a repeat order re-buys one of the first order's items
    budget_coefficient: float = 0.5  # penalty on |log(reference price / per-line budget)|


@dataclass(frozen=True)
class PriceConfig:
    changes_per_year: float = 1.25  # list-price changes per product: Poisson process on week starts
    change_log_sd: float = 0.15
    # Candidate-level MNL term: choice score += beta_price * log(price(t) / price at window start).
    # 0 by default: the own-price response lives in ``elasticities`` (an exact, documented
    # estimand); a nonzero value adds about beta_price x (1 - choice share) on top of it.
    beta_price: float = 0.0
    # Own-price elasticity of product demand per category (same order as DEFAULT_CATEGORIES):
    # a product's weight in the within-category candidate draw and in favourite re-buys is
    # popularity x (price(t) / price at window start) ** elasticity, so its expected units are
    # proportional to price(t) ** elasticity given the category-week (see catalogue.py).
    elasticities: tuple[float, ...] = (-2.5, -1.5, -1.0, -2.0, -1.8, -1.6, -0.8, -0.5, -0.7, -0.6, -1.2, -1.0)
    cost_shares: tuple[float, ...] = (0.75, 0.55, 0.40, 0.45, 0.60, 0.55, 0.65, 0.75, 0.60, 0.50, 0.60, 0.55)
    cost_log_sd: float = 0.10  # unit cost = reference price x category cost share x lognormal noise
    promotions_per_year: float = 1.5  # temporary discounts per product: Poisson process on week starts
    promotion_two_week_share: float = 0.5  # a promotion lasts one week, or two with this probability
    promotion_discount_min: float = 0.10
    promotion_discount_max: float = 0.30


@dataclass(frozen=True)
class BasketConfig:
    """Baskets are filled to the planted order total (see baskets.py)."""

    extra_lines_mean: float = 0.9  # an order wants 1 + Poisson(mean) products
    extra_units_mean: float = 0.15  # quantity of a non-first line = 1 + Poisson(mean)
    max_lines: int = 16
    stop_fraction: float = 0.10  # stop adding lines once list value >= (1 - this) x target
    max_overshoot: float = 0.25  # a line's unit price may exceed the remaining target by this
    coupon_share: float = 0.30  # orders with a coupon: target list value = total / (1 - c)
    coupon_min: float = 0.05
    coupon_max: float = 0.30


@dataclass(frozen=True)
class StatusConfig:
    """After the first order a customer places orders at rate lambda x (1 + c + r) until death;
    each is completed, cancelled or returned with probabilities proportional to 1 : c : r, so the
    completed ones are exactly the BG/NBD process and c, r are the expected cancelled / returned
    orders per completed REPEAT order (the first order is the conversion, always completed)."""

    cancelled_per_completed: float = 0.05
    returned_per_completed: float = 0.07


@dataclass(frozen=True)
class FunnelConfig:
    order_extra_views_mean: float = 1.2  # other candidates viewed per purchased line
    order_abandoned_cart_probability: float = 0.08  # P(add_to_cart) of such an extra view
    browse_focus_mean: float = 1.0  # a browse session focuses on 1 + Poisson(mean) products
    browse_extra_views_mean: float = 1.5  # other candidates viewed per focused product
    browse_sessions_per_order: float = 0.5  # browse rate while engaged = this x purchase rate lambda
    browse_horizon_days: float = 60.0  # signup interest lasts this long; browsing stops this long after death


@dataclass(frozen=True)
class ReviewConfig:
    probability_per_completed_line: float = 0.10
    delay_min_days: float = 1.0
    delay_mean_extra_days: float = 6.0
    # Text and the beyond-rating effect (reviews.py documents the process).
    late_delivery_probability: float = 0.12
    service_problem_probability: float = 0.05
    rating_shift_late_delivery: float = -0.5
    rating_shift_service_problem: float = -0.7
    aspect_noise_sd: float = 0.5
    neutral_band: float = 0.45
    mention_quality: float = 0.85
    mention_value: float = 0.35
    mention_delivery_ok: float = 0.3
    mention_service_ok: float = 0.04
    mention_problem: float = 0.9
    mention_size_fit: float = 0.5
    emoji_probability: float = 0.12
    quit_probability_delivery_complaint: float = 0.25
    quit_probability_service_complaint: float = 0.35


@dataclass(frozen=True)
class TicketConfig:
    """Support tickets (simulator/tickets.py documents the process). Per-intent tuples follow
    tickets.INTENTS: where_is_my_order, return_refund, damaged_or_wrong_item, payment_problem,
    account_login, product_question, complaint."""

    p_where_is_my_order: float = 0.035  # per order
    p_return_refund: float = 0.012
    p_return_refund_returned: float = 0.35  # per returned order
    p_damaged_or_wrong_item: float = 0.015
    p_payment_problem: float = 0.008
    p_payment_problem_cancelled: float = 0.2  # per cancelled order
    p_complaint: float = 0.012  # x exp(-complaint_satisfaction_slope x satisfaction)
    complaint_satisfaction_slope: float = 0.5
    account_login_per_day: float = 0.00015  # per signed-up, alive customer
    product_question_per_day: float = 0.0002
    delay_mean_days: tuple[float, ...] = (6.0, 8.0, 3.0, 0.5, 1.0, 1.0, 7.0)  # order -> ticket (order intents)
    resolve_probability: tuple[float, ...] = (0.95, 0.9, 0.92, 0.93, 0.95, 0.97, 0.6)
    resolve_mean_days: tuple[float, ...] = (2.0, 5.0, 4.0, 3.0, 1.0, 1.0, 6.0)
    unresolved_after_days: float = 14.0
    quit_probability_unresolved_complaint: float = 0.5
    channel_shares: tuple[float, ...] = (0.45, 0.3, 0.2, 0.05)  # email, chat, web_form, phone
    generic_subject_probability: float = 0.25
    second_sentence_probability: float = 0.35
    related_sentence_probability: float = 0.15
    order_reference_probability: float = 0.6
    emoji_probability: float = 0.08
    lowercase_probability: float = 0.15
    drop_punctuation_probability: float = 0.08


@dataclass(frozen=True)
class ExperimentConfig:
    experiment_id: str = "checkout_free_shipping_2025q4"
    window_start: date = date(2025, 10, 1)
    window_end: date = date(2026, 1, 31)  # inclusive; customers signing up within are assigned
    treatment_share: float = 0.5
    relative_lift: float = 0.12  # treatment multiplies first-order conversion by (1 + lift)
    metric: str = "first completed order within 30 days of assignment"
    metric_window_days: int = 30


@dataclass(frozen=True)
class CustomerExperimentConfig:
    """An experiment on existing customers (see simulator/experiments.py): customers with a first
    order before their enrolment day are enrolled over ``enrolment_days`` from ``start``; during
    ``metric_window_days`` after enrolment, treatment multiplies the completed-order rate by
    (1 + completed_rate_lift) and the returned-order rate by (1 + returned_rate_lift)."""

    experiment_id: str
    start: date
    completed_rate_lift: float
    returned_rate_lift: float
    fallback_fraction: float  # start at this fraction of signups.scale_days if ``start`` misses it
    enrolment_days: int = 14
    enrolment_probability: float = 0.7
    treatment_share: float = 0.5
    metric_window_days: int = 30


DEFAULT_CUSTOMER_EXPERIMENTS: tuple[CustomerExperimentConfig, ...] = (
    CustomerExperimentConfig("loyalty_points_2025q4", date(2025, 11, 3), completed_rate_lift=0.25,
                             returned_rate_lift=1.5, fallback_fraction=0.70),
    CustomerExperimentConfig("aa_homepage_copy_2026q1", date(2026, 1, 12), completed_rate_lift=0.0,
                             returned_rate_lift=0.0, fallback_fraction=0.80),
)


@dataclass(frozen=True)
class CampaignConfig:
    """A past retention campaign (simulator/campaigns.py)."""

    campaign_id: str
    send_date: date
    fallback_fraction: float  # send at this fraction of signups.scale_days if send_date misses it
    target_share: float = 0.5  # of the customers with a first order before the send
    control_share: float = 0.3  # randomised control (recorded, not sent)


@dataclass(frozen=True)
class CampaignAction:
    name: str
    coupon_value: float
    peak_uplift: float  # expected added completed orders of a treated send at the peak recency


@dataclass(frozen=True)
class CampaignEffectConfig:
    peak_days: float = 60.0  # days since the last order where the uplift peaks (medium churn risk)
    width: float = 0.8  # sd of ln(days since last order / peak_days) of the uplift's bell
    effect_days: float = 14.0  # the added orders fall within this many days after the send


DEFAULT_CAMPAIGNS: tuple[CampaignConfig, ...] = (
    CampaignConfig("winback_2025_03", date(2025, 3, 3), fallback_fraction=0.34),
    CampaignConfig("winback_2025_06", date(2025, 6, 2), fallback_fraction=0.46),
    CampaignConfig("winback_2025_09", date(2025, 9, 1), fallback_fraction=0.58),
    CampaignConfig("winback_2026_03", date(2026, 3, 2), fallback_fraction=0.83),
)
DEFAULT_CAMPAIGN_ACTIONS: tuple[CampaignAction, ...] = (
    CampaignAction("winback_coupon", coupon_value=10.0, peak_uplift=0.35),
    CampaignAction("reminder_email", coupon_value=0.0, peak_uplift=0.12),
)


@dataclass(frozen=True)
class MarketingConfig:
    noise_sigma: float = 0.05  # daily spend = signups * cac * exp(sigma Z - sigma^2 / 2)


@dataclass(frozen=True)
class SimulationConfig:
    customers: int
    seed: int
    start: date = DEFAULT_START
    end: date = DEFAULT_END  # inclusive: data runs up to end 23:59:59.999999
    dirty_rate: float = 0.0
    effects: Effects = "full"
    products: int = 0  # 0 = default_products(customers)
    channels: tuple[ChannelConfig, ...] = DEFAULT_CHANNELS
    categories: tuple[CategoryConfig, ...] = DEFAULT_CATEGORIES
    countries: tuple[tuple[str, float], ...] = DEFAULT_COUNTRIES
    bgnbd: BgNbdConfig = field(default_factory=BgNbdConfig)
    gamma_gamma: GammaGammaConfig = field(default_factory=GammaGammaConfig)
    signups: SignupConfig = field(default_factory=SignupConfig)
    seasonality: SeasonalityConfig = field(default_factory=SeasonalityConfig)
    satisfaction: SatisfactionConfig = field(default_factory=SatisfactionConfig)
    taste: TasteConfig = field(default_factory=TasteConfig)
    prices: PriceConfig = field(default_factory=PriceConfig)
    basket: BasketConfig = field(default_factory=BasketConfig)
    status: StatusConfig = field(default_factory=StatusConfig)
    funnel: FunnelConfig = field(default_factory=FunnelConfig)
    reviews: ReviewConfig = field(default_factory=ReviewConfig)
    tickets: TicketConfig = field(default_factory=TicketConfig)
    experiment: ExperimentConfig = field(default_factory=ExperimentConfig)
    customer_experiments: tuple[CustomerExperimentConfig, ...] = DEFAULT_CUSTOMER_EXPERIMENTS
    campaigns: tuple[CampaignConfig, ...] = DEFAULT_CAMPAIGNS
    campaign_actions: tuple[CampaignAction, ...] = DEFAULT_CAMPAIGN_ACTIONS
    campaign_effect: CampaignEffectConfig = field(default_factory=CampaignEffectConfig)
    marketing: MarketingConfig = field(default_factory=MarketingConfig)
    dropout_after_first: bool = False  # MBG/NBD: a customer may also die right after the first order
    chunk_customers: int = CHUNK_CUSTOMERS


def build_config(
    customers: int = 50_000,
    seed: int = 42,
    start: date = DEFAULT_START,
    end: date = DEFAULT_END,
    dirty_rate: float = 0.0,
    effects: Effects = "full",
    products: int | None = None,
    dropout_after_first: bool = False,
) -> SimulationConfig:
    """Validated config with the effective parameters for the chosen effects switch.

    ``dropout_after_first`` switches the purchase process from BG/NBD to MBG/NBD (Batislam et
    al. 2007): the dropout chance p also applies right after the first purchase.

    With ``effects="none"`` channel multipliers/shifts, the satisfaction effect on dropout,
    purchase seasonality, the price elasticity and the experiment lift are all neutral, so
    every converted customer follows plain BG/NBD + Gamma-Gamma with the global parameters.
    Channels still differ in share, conversion, delay, CAC and funnel: those are acquisition,
    not purchase behaviour.
    """
    if not isinstance(customers, int) or customers < 1:
        raise ValueError(f"customers must be a positive integer, got {customers!r}")
    if customers > MAX_CUSTOMERS:
        raise ValueError(f"customers must be at most {MAX_CUSTOMERS:,}, got {customers:,}")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if end <= start:
        raise ValueError(f"end ({end}) must be after start ({start})")
    if not 0.0 <= dirty_rate <= MAX_DIRTY_RATE:
        # Each class takes its own template rows; above 1 / (number of classes) they run out.
        raise ValueError(f"dirty_rate must be within [0, {MAX_DIRTY_RATE}], got {dirty_rate}")
    if effects not in ("full", "none"):
        raise ValueError(f"effects must be 'full' or 'none', got {effects!r}")
    n_products = default_products(customers) if products is None else products
    n_categories = len(DEFAULT_CATEGORIES)
    if not isinstance(n_products, int) or not n_categories <= n_products <= MAX_PRODUCTS:
        raise ValueError(f"products must be an integer in [{n_categories}, {MAX_PRODUCTS:,}], got {n_products!r}")

    config = SimulationConfig(
        customers=customers, seed=seed, start=start, end=end, dirty_rate=float(dirty_rate),
        effects=effects, products=n_products, dropout_after_first=bool(dropout_after_first),
    )
    if effects == "none":
        config = dataclasses.replace(
            config,
            channels=tuple(dataclasses.replace(c, lambda_multiplier=1.0, logit_p_shift=0.0) for c in config.channels),
            satisfaction=dataclasses.replace(config.satisfaction, dropout_logit_per_sd=0.0),
            seasonality=dataclasses.replace(config.seasonality, purchase_yearly_amplitude=0.0),
            prices=dataclasses.replace(config.prices, beta_price=0.0,
                                       elasticities=tuple(0.0 for _ in config.prices.elasticities)),
            experiment=dataclasses.replace(config.experiment, relative_lift=0.0),
            reviews=dataclasses.replace(config.reviews, quit_probability_delivery_complaint=0.0,
                                        quit_probability_service_complaint=0.0),
            tickets=dataclasses.replace(config.tickets, quit_probability_unresolved_complaint=0.0),
            customer_experiments=tuple(dataclasses.replace(e, completed_rate_lift=0.0, returned_rate_lift=0.0)
                                       for e in config.customer_experiments),
            campaign_actions=tuple(dataclasses.replace(a, peak_uplift=0.0) for a in config.campaign_actions),
        )
    return config
