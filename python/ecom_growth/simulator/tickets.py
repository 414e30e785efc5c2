"""Support tickets: contacts with a planted intent, bilingual texts, and unresolved complaints
that make customers quit.

Per 4-week period, from its own keyed stream (seed, SUPPORT_TICKETS, chunk, period), so every
other draw of the simulator is exactly what it is without tickets:

* order-linked tickets: each order placed in the period raises at most one ticket, with
  intent where_is_my_order / return_refund / damaged_or_wrong_item / payment_problem /
  complaint (probabilities per order in ``TicketConfig``; return_refund is likelier for a
  returned order, payment_problem for a cancelled one, and complaints rise with low
  satisfaction: x exp(-complaint_satisfaction_slope x satisfaction)). It is created a few days
  after the order (per-intent delay) and its text names the order id;
* customer tickets: every signed-up customer alive in the period writes account_login and
  product_question tickets as Poisson processes (rates per day), not linked to an order;
* resolution: drawn when the ticket is created: resolved with ``resolve_probability`` of its
  intent after Exp(mean ``resolve_mean_days``) days, else never. The export shows what is
  known at its end: status 'resolved' and resolved_at when resolved before the end, else
  'open' and a null resolved_at;
* beyond the rating: a complaint not resolved within ``unresolved_after_days`` makes the
  customer quit (stop ordering) with ``quit_probability_unresolved_complaint``, from the later
  of created_at + unresolved_after_days and the end of the ticket's period (a time no earlier
  draw depends on);
* text: Chinese for customers in CN, English elsewhere. Subject and body come from per-(language,
  intent) phrase banks with greetings, closings, an order reference, a second sentence of the
  same intent, sometimes a sentence of a related intent (a complaint about a late parcel),
  generic subjects ("Help", "求助"), typos, lower-casing, dropped punctuation and emoji.

Ticket k of customer c (by creation time) is T + c x 10^4 + k. Planted intent per ticket:
``_truth_tickets.parquet``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ecom_growth.simulator.config import SimulationConfig
from ecom_growth.simulator.ids import take_strings
from ecom_growth.simulator.purchases import CANCELLED, RETURNED, Orders

# Stream purpose (far from streams.py's range, like campaigns'). Never renumber.
SUPPORT_TICKETS = 35

INTENTS = ("where_is_my_order", "return_refund", "damaged_or_wrong_item", "payment_problem", "account_login",
           "product_question", "complaint")
WISMO, RETURN, DAMAGED, PAYMENT, ACCOUNT, PRODUCT, COMPLAINT = range(len(INTENTS))
ORDER_INTENTS = (WISMO, RETURN, DAMAGED, PAYMENT, COMPLAINT)
CHANNELS = ("email", "chat", "web_form", "phone")
STATUSES = ("open", "resolved")
CHINESE_COUNTRIES = ("CN",)
# The related intent whose sentence sometimes joins a ticket (what makes intents overlap).
CONFUSER = {WISMO: COMPLAINT, RETURN: PAYMENT, DAMAGED: RETURN, PAYMENT: ACCOUNT, ACCOUNT: PAYMENT,
            PRODUCT: RETURN, COMPLAINT: WISMO}

SUBJECTS: dict[tuple[str, int], tuple[str, ...]] = {
    ("en", WISMO): ("Where is my order?", "Order not arrived yet", "Tracking not updating", "Delivery status?",
                    "parcel still not here", "When will my package arrive", "Still waiting for my order"),
    ("en", RETURN): ("Return request", "I want a refund", "How do I send this back", "Refund not received yet",
                     "Return label please", "Cancel and refund", "refund?"),
    ("en", DAMAGED): ("Item arrived damaged", "Wrong item received", "Broken product", "Received the wrong colour",
                      "Missing part in my package", "Package arrived crushed", "wrong item recieved"),
    ("en", PAYMENT): ("Payment failed", "Charged twice", "Card declined", "Problem with payment",
                      "Double charge on my card", "Coupon code not working at checkout", "payment issue"),
    ("en", ACCOUNT): ("Can't log in", "Password reset not working", "Account locked", "Change my email address",
                      "Login problem", "Verification code never arrives", "cant login"),
    ("en", PRODUCT): ("Question about a product", "Is this compatible?", "Size advice", "Product info",
                      "Does this come in other colours?", "Before I buy", "quick question"),
    ("en", COMPLAINT): ("Very disappointed", "Complaint", "Terrible experience", "Not happy with your service",
                        "Formal complaint", "Worst shopping experience", "unacceptable"),
    ("zh", WISMO): ("我的订单到哪了", "快递还没到", "物流信息不更新", "什么时候能到", "查询物流", "包裹一直没收到"),
    ("zh", RETURN): ("申请退货", "我要退款", "怎么退货", "退款还没到账", "退换货", "取消订单退款"),
    ("zh", DAMAGED): ("商品破损", "发错货了", "收到的东西坏了", "少发了配件", "颜色发错了", "包裹被压坏"),
    ("zh", PAYMENT): ("支付失败", "重复扣款", "银行卡被拒", "付款问题", "扣了两次钱", "优惠券用不了"),
    ("zh", ACCOUNT): ("无法登录", "重置密码", "账号被锁", "修改邮箱", "登录问题", "收不到验证码"),
    ("zh", PRODUCT): ("商品咨询", "请问兼容吗", "尺码咨询", "产品信息", "有其他颜色吗", "购买前咨询"),
    ("zh", COMPLAINT): ("非常失望", "投诉", "体验很差", "对服务很不满意", "正式投诉", "最差的购物体验"),
}
GENERIC_SUBJECTS = {"en": ("Help", "Question", "Hi", "Urgent", "Hello", ""), "zh": ("求助", "咨询", "你好", "急", "")}

BODIES: dict[tuple[str, int], tuple[str, ...]] = {
    ("en", WISMO): ("I ordered over a week ago and it still hasn't arrived.", "The tracking number hasn't updated for five days.",
                    "Can you tell me where my package is?", "My parcel was supposed to arrive yesterday but nothing came.",
                    "When will my order be delivered?", "The courier says delivered but I never got it.",
                    "It's been 10 days and still no sign of my delivery.", "Could you check the shipping status please",
                    "Still waiting for my parcel, any update?"),
    ("en", RETURN): ("I would like to return this item and get my money back.", "How do I send the product back?",
                     "I sent the package back two weeks ago and still no refund.", "Please send me a return label.",
                     "I changed my mind, can I get a refund?", "The refund has not shown up on my account yet.",
                     "I want to cancel my order and be refunded.", "Can I exchange it for a different size or return it",
                     "What is your return policy? I'd like my money back."),
    ("en", DAMAGED): ("The item arrived broken.", "I received the wrong product, this is not what I ordered.",
                      "The box was crushed and the item inside is damaged.", "One of the parts is missing from the package.",
                      "You sent me the wrong colour.", "The screen is cracked straight out of the box.",
                      "The bottle leaked all over the package.", "I got someone else's order",
                      "It was already scratched and dented when I opened it."),
    ("en", PAYMENT): ("My card was charged twice for the same order.", "The payment keeps failing at checkout.",
                      "My card was declined but the money was taken.", "I paid but the order shows as unpaid.",
                      "The discount code was not applied to my payment.", "Why was I charged more than the price shown?",
                      "PayPal payment did not go through.", "I see a pending charge on my card I don't recognise",
                      "The checkout says transaction error every time."),
    ("en", ACCOUNT): ("I can't log in to my account.", "The password reset email never arrives.",
                      "My account has been locked after too many attempts.",
                      "I want to change the email address on my account.", "The verification code is not sent to my phone.",
                      "Please delete my account and my data.", "I forgot my pasword and the reset link has expired.",
                      "It says my account does not exist but I have ordered before", "I keep getting logged out of the app."),
    ("en", PRODUCT): ("Is this product compatible with the older model?", "What are the dimensions of this item?",
                      "Does it come in other colours?", "Is this true to size or should I go one up?",
                      "What material is it made of?", "Is it suitable for children?", "Will this be back in stock soon?",
                      "Does it come with a warranty", "How long does the battery last on this one?"),
    ("en", COMPLAINT): ("I am very unhappy with how I was treated by your staff.",
                        "This is the third time something went wrong, I am fed up.",
                        "Your customer service is a joke, nobody cares.", "I want to make a formal complaint about this shop.",
                        "I have been a loyal customer for years and this is unacceptable.",
                        "Nobody responds to my messages, this is ridiculous.",
                        "I will never shop here again if this is not sorted.", "Absolutely disgusted with the service",
                        "Your agent was rude and hung up on me."),
    ("zh", WISMO): ("我下单一个多星期了还没收到货。", "物流信息五天没有更新了。", "请帮我查一下包裹在哪里。",
                    "说好昨天到的，到现在还没到。", "请问我的订单什么时候能送到？", "显示已签收但是我根本没收到。",
                    "已经十天了还没有物流消息。", "麻烦查一下我的快递", "还在等我的包裹，有进展吗？"),
    ("zh", RETURN): ("我想退货退款。", "请问怎么把商品寄回去？", "两周前就寄回了，退款还没收到。", "请给我一个退货地址。",
                     "不想要了，可以退款吗？", "退款一直没到账。", "我要取消订单并退款。", "可以换个尺码或者退货吗",
                     "你们的退货政策是什么？我想要回我的钱。"),
    ("zh", DAMAGED): ("收到的时候东西已经坏了。", "发错货了，这不是我买的东西。", "箱子被压扁了，里面的商品也坏了。",
                      "包裹里少了一个配件。", "颜色发错了。", "屏幕一拆开就是裂的。", "瓶子漏了，整个包裹都湿了。",
                      "收到的是别人的订单", "打开的时候就有划痕和凹痕。"),
    ("zh", PAYMENT): ("同一个订单扣了我两次钱。", "结账的时候一直支付失败。", "银行卡显示被拒但是钱已经扣了。",
                      "我已经付款了但订单显示未支付。", "优惠码没有抵扣。", "为什么扣的钱比显示的价格多？",
                      "支付宝付款没有成功。", "卡上有一笔不认识的扣款", "结账时每次都提示交易错误。"),
    ("zh", ACCOUNT): ("我登录不了我的账号。", "重置密码的邮件一直收不到。", "输错几次密码账号就被锁了。",
                      "我想修改账号绑定的邮箱。", "手机收不到验证码。", "请注销我的账号并删除我的数据。",
                      "忘记密码了，重置链接已经过期。", "提示账号不存在，可我以前下过单", "APP总是自动退出登录。"),
    ("zh", PRODUCT): ("请问这个和旧款兼容吗？", "这个商品的尺寸是多少？", "有没有其他颜色？", "尺码标准吗，要不要买大一码？",
                      "这是什么材质的？", "适合小孩用吗？", "什么时候补货？", "有保修吗", "这个电池能用多久？"),
    ("zh", COMPLAINT): ("你们员工的态度让我非常不满。", "这已经是第三次出问题了，我受够了。", "你们的客服就是摆设，没人管。",
                        "我要正式投诉你们店。", "我是老顾客了，这样太过分了。", "发了好几条消息都没人回复，太离谱了。",
                        "再不解决我再也不会在这里买东西了。", "对你们的服务极度失望", "客服态度恶劣还直接挂我电话。"),
}
GREETINGS = {"en": ("", "", "Hi,", "Hello,", "Dear support,", "Hi there,", "Good morning,"),
             "zh": ("", "", "你好，", "您好，", "客服你好，", "在吗？")}
CLOSINGS = {"en": ("", "", "Thanks.", "Thank you!", "Please help.", "Regards", "Thanks in advance", "Please reply asap!!"),
            "zh": ("", "", "谢谢。", "麻烦尽快处理！", "谢谢！", "急！！", "请尽快回复。")}
# (prefix, suffix) around the order id.
ORDER_REFERENCES = {"en": (("Order number: ", "."), ("My order is ", "."), ("Order #", ""), ("(order ", ")"), ("ref ", "")),
                    "zh": (("订单号：", "。"), ("我的订单是", "，"), ("订单", ""), ("（订单号", "）"))}
EMOJI = ("🙏", "😡", "😞", "❓", "🙂")


@dataclass(frozen=True)
class TicketBank:
    """Flat phrase list (index 0 is "") and per-(language, part, intent) offsets and counts."""

    labels: list[str]
    offset: dict[tuple[str, str, int], int]
    count: dict[tuple[str, str, int], int]


def ticket_bank() -> TicketBank:
    labels, offset, count = [""], {}, {}

    def add(key: tuple[str, str, int], phrases) -> None:
        offset[key], count[key] = len(labels), len(phrases)
        labels.extend(phrases)

    for language in ("en", "zh"):
        for intent in range(len(INTENTS)):
            add((language, "subject", intent), SUBJECTS[(language, intent)])
            add((language, "body", intent), BODIES[(language, intent)])
        add((language, "generic", 0), GENERIC_SUBJECTS[language])
        add((language, "greeting", 0), GREETINGS[language])
        add((language, "closing", 0), CLOSINGS[language])
        add((language, "ref_prefix", 0), [p for p, _ in ORDER_REFERENCES[language]])
        add((language, "ref_suffix", 0), [s for _, s in ORDER_REFERENCES[language]])
    add(("any", "emoji", 0), EMOJI)
    return TicketBank(labels, offset, count)


@dataclass
class PeriodTickets:
    """Tickets raised in one period (construction order; the caller filters and ids them)."""

    customer: np.ndarray  # chunk-local customer index
    order: np.ndarray  # chunk-wide order index of the linked order (-1: none)
    intent: np.ndarray  # int8 index into INTENTS
    channel: np.ndarray  # int8 index into CHANNELS
    language: np.ndarray  # int8: 0 en, 1 zh
    created_days: np.ndarray
    resolved_days: np.ndarray  # inf: never resolved
    pieces: np.ndarray  # (n, 9) int64 phrase indices: subject, greeting, body, ref prefix, ref suffix,
    #                     second sentence, related-intent sentence, closing, emoji
    noise: np.ndarray  # (n, 2) bool: lower-cased, punctuation dropped
    quits: np.ndarray  # bool: an unresolved complaint makes the customer quit
    quit_from_days: np.ndarray


def _pick(rng: np.random.Generator, bank: TicketBank, language: np.ndarray, part: str, intent: np.ndarray) -> np.ndarray:
    """One phrase index per row from the (language, part, intent) bank."""
    out = np.zeros(language.size, np.int64)
    u = rng.random(language.size)
    for lang_code, lang in enumerate(("en", "zh")):
        for i in np.unique(intent):
            rows = (language == lang_code) & (intent == i)
            key = (lang, part, int(i))
            out[rows] = bank.offset[key] + (u[rows] * bank.count[key]).astype(np.int64)
    return out


def period_tickets(
    rng: np.random.Generator, config: SimulationConfig, orders: Orders, order_offset: int, satisfaction: np.ndarray,
    country: np.ndarray, signup_days: np.ndarray, death_days: np.ndarray, lo: float, hi: float,
) -> PeriodTickets:
    """The tickets raised in [lo, hi) by this period's orders and customers (module docstring)."""
    cfg = config.tickets
    # Order-linked: at most one ticket per order, intent from per-order probabilities.
    n_orders = orders.customer.size
    prob = np.zeros((n_orders, len(ORDER_INTENTS)))
    prob[:, 0] = cfg.p_where_is_my_order
    prob[:, 1] = np.where(orders.status == RETURNED, cfg.p_return_refund_returned, cfg.p_return_refund)
    prob[:, 2] = cfg.p_damaged_or_wrong_item
    prob[:, 3] = np.where(orders.status == CANCELLED, cfg.p_payment_problem_cancelled, cfg.p_payment_problem)
    prob[:, 4] = cfg.p_complaint * np.exp(-cfg.complaint_satisfaction_slope * satisfaction[orders.customer])
    prob = prob / np.maximum(1.0, prob.sum(axis=1, keepdims=True))
    u = rng.random(n_orders)
    choice = (u[:, None] >= np.cumsum(prob, axis=1)).sum(axis=1)  # len(ORDER_INTENTS): no ticket
    raised = np.flatnonzero(choice < len(ORDER_INTENTS))
    order_intent = np.asarray(ORDER_INTENTS)[choice[raised]]
    delay = np.asarray(cfg.delay_mean_days)[order_intent]
    order_created = orders.days[raised] + 0.1 + rng.exponential(1.0, raised.size) * delay

    # Customer tickets: Poisson processes over the signed-up, alive part of the period.
    n_active = signup_days.size
    start = np.maximum(signup_days, lo)
    with np.errstate(invalid="ignore"):
        end = np.where(death_days[:n_active] < hi, np.maximum(death_days[:n_active], start), hi)
    exposure = np.maximum(end - start, 0.0)
    rates = np.array([cfg.account_login_per_day, cfg.product_question_per_day])
    counts = rng.poisson(exposure[:, None] * rates[None, :])  # (n_active, 2)
    owner = np.repeat(np.tile(np.arange(n_active), 2), counts.T.reshape(-1))
    customer_intent = np.repeat(np.array([ACCOUNT, PRODUCT]), counts.sum(axis=0))
    customer_created = start[owner] + rng.random(owner.size) * exposure[owner]

    customer = np.concatenate([orders.customer[raised], owner]).astype(np.int64)
    order = np.concatenate([order_offset + raised, np.full(owner.size, -1)]).astype(np.int64)
    intent = np.concatenate([order_intent, customer_intent]).astype(np.int8)
    created = np.concatenate([order_created, customer_created])
    n = customer.size

    resolved = rng.random(n) < np.asarray(cfg.resolve_probability)[intent]
    resolved_days = np.where(resolved, created + rng.exponential(1.0, n) * np.asarray(cfg.resolve_mean_days)[intent],
                             np.inf)
    unresolved_complaint = (intent == COMPLAINT) & (resolved_days > created + cfg.unresolved_after_days)
    quits = unresolved_complaint & (rng.random(n) < cfg.quit_probability_unresolved_complaint)
    quit_from = created + cfg.unresolved_after_days

    chinese = [i for i, (code, _) in enumerate(config.countries) if code in CHINESE_COUNTRIES]
    language = np.isin(country[customer], chinese).astype(np.int8)
    channel = np.searchsorted(np.cumsum(cfg.channel_shares) / np.sum(cfg.channel_shares), rng.random(n),
                              side="right").astype(np.int8)
    pieces = _text_pieces(rng, cfg, ticket_bank(), language, intent, order >= 0)
    noise = rng.random((n, 2)) < np.array([cfg.lowercase_probability, cfg.drop_punctuation_probability])
    return PeriodTickets(customer=customer, order=order, intent=intent, channel=np.minimum(channel, len(CHANNELS) - 1),
                         language=language, created_days=created, resolved_days=resolved_days, pieces=pieces,
                         noise=noise, quits=quits, quit_from_days=quit_from)


def _text_pieces(rng: np.random.Generator, cfg, bank: TicketBank, language: np.ndarray, intent: np.ndarray,
                 linked: np.ndarray) -> np.ndarray:
    n = intent.size
    zeros = np.zeros(n, np.int8)
    u = rng.random((n, 5))
    subject = np.where(u[:, 0] < cfg.generic_subject_probability, _pick(rng, bank, language, "generic", zeros),
                       _pick(rng, bank, language, "subject", intent))
    body = _pick(rng, bank, language, "body", intent)
    second = _pick(rng, bank, language, "body", intent)
    second = np.where((u[:, 1] < cfg.second_sentence_probability) & (second != body), second, 0)
    related = np.array([CONFUSER[int(i)] for i in range(len(INTENTS))], np.int8)[intent]
    confuser = np.where(u[:, 2] < cfg.related_sentence_probability, _pick(rng, bank, language, "body", related), 0)
    reference = _pick(rng, bank, language, "ref_prefix", zeros)
    with_reference = linked & (u[:, 3] < cfg.order_reference_probability)
    ref_prefix = np.where(with_reference, reference, 0)
    ref_suffix = np.where(with_reference, reference + (bank.offset[("en", "ref_suffix", 0)] - bank.offset[("en", "ref_prefix", 0)]), 0)
    ref_suffix = np.where(with_reference & (language == 1),
                          reference + (bank.offset[("zh", "ref_suffix", 0)] - bank.offset[("zh", "ref_prefix", 0)]), ref_suffix)
    greeting = _pick(rng, bank, language, "greeting", zeros)
    closing = _pick(rng, bank, language, "closing", zeros)
    emoji = np.where(u[:, 4] < cfg.emoji_probability,
                     bank.offset[("any", "emoji", 0)] + (rng.random(n) * len(EMOJI)).astype(np.int64), 0)
    return np.column_stack([subject, greeting, body, ref_prefix, ref_suffix, second, confuser, closing, emoji])


def render_tickets(pieces: np.ndarray, noise: np.ndarray, language: np.ndarray,
                   order_ids: pa.StringArray) -> tuple[pa.StringArray, pa.StringArray]:
    """(subject, body) texts from phrase indices (vectorised Arrow joins; ``order_ids`` is "" when unlinked)."""
    labels = ticket_bank().labels
    col = [take_strings(labels, pieces[:, j]) for j in range(pieces.shape[1])]
    no_ref = pc.equal(col[3], "")
    reference = pc.if_else(no_ref, "", pc.binary_join_element_wise(col[3], order_ids, col[4], ""))
    separator = take_strings([" ", ""], language)
    body = pc.binary_join_element_wise(col[1], col[2], reference, col[5], col[6], col[7], col[8], separator)
    body = pc.utf8_trim_whitespace(pc.replace_substring_regex(body, r"\s+", " "))
    lower = pa.array(noise[:, 0] & (language == 0))
    body = pc.if_else(lower, pc.utf8_lower(body), body)
    subject = pc.if_else(lower, pc.utf8_lower(col[0]), col[0])
    body = pc.if_else(pa.array(noise[:, 1]), pc.replace_substring_regex(body, r"[.,!?。，！？]", ""), body)
    return subject, body


TICKET_PROCESS = __doc__.split("\n\n")[1].replace("\n", " ")
