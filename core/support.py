"""Support chat rules: conversation states, rights on them, masking, canned replies, metrics."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from core.errors import ConflictError, DomainError, NotFoundError, PermissionDeniedError


class Status(StrEnum):
    """Where a handoff stands: queued, held by an agent, or over."""

    OPEN = "open"
    TAKEN = "taken"
    CLOSED = "closed"


class Outcome(StrEnum):
    """How a conversation ended."""

    CLOSED = "closed"  # the agent closed it with a category and a resolution
    HANDED_BACK = "handed_back"  # the agent gave it back to the bot
    IDLE = "idle"  # nobody wrote for the configured time: back to the bot


class CloseCategory(StrEnum):
    """What a closed conversation was about (the metrics group by it)."""

    FEE = "fee"
    PAYMENT = "payment"
    REFUND = "refund"
    ARREARS = "arrears"
    BINDING = "binding"
    INVOICE = "invoice"
    DEVICE = "device"
    COMPLAINT = "complaint"
    OTHER = "other"


class MessageKind(StrEnum):
    """What an agent sends."""

    TEXT = "text"
    MINIPROGRAM = "miniprogram"
    CANNED = "canned"


# Replies an agent sends by name; the texts are the driver's, so Chinese.
CANNED: dict[str, str] = {
    "greeting": "您好，我是停车客服，请问有什么可以帮您？",
    "checking": "好的，正在为您核实，请稍候。",
    "pay_in_miniprogram": "您可以在“城市停车”小程序的“待缴费”页面查看并缴纳费用。",
    "refund_days": "退款将在1-3个工作日内原路退回，请留意微信支付通知。",
    "bye": "感谢您的耐心，如还有问题请随时留言。",
}
RATING_QUESTION = "本次客服服务已结束。请为本次服务打分：回复 1-5 的数字（5 分最满意）。"
RATING_THANKS = "感谢您的评价！如需帮助，随时回复“人工”。"
HANDED_BACK = "客服已结束本次会话，接下来由智能助手为您服务。如需人工，请回复“人工”。"
IDLE_BACK = (
    "由于长时间没有新消息，本次客服会话已结束，智能助手将继续为您服务。回复“人工”可再次联系客服。"
)
RATING_WINDOW = timedelta(hours=24)


class AlreadyClaimedError(ConflictError):
    """Another agent claimed the conversation first (or it is no longer waiting)."""

    code = "already_claimed"
    message_zh = "该会话已被其他客服接入"


class NotHoldingError(PermissionDeniedError):
    """Only the agent holding a conversation may write in it, close it or pass it on."""

    code = "not_your_conversation"
    message_zh = "该会话不由您接待"


class ConversationOverError(ConflictError):
    """The conversation is closed or back with the bot."""

    code = "conversation_over"
    message_zh = "该会话已结束"


class ConversationNotFoundError(NotFoundError):
    """No such conversation."""

    code = "conversation_not_found"
    message_zh = "会话不存在"


class UnknownAgentError(ConflictError):
    """A transfer to an account that cannot take conversations."""

    code = "unknown_agent"
    message_zh = "目标客服不存在或无接待权限"


class UnknownCannedError(NotFoundError):
    """A canned reply name that does not exist."""

    code = "unknown_canned_reply"
    message_zh = "快捷回复不存在"


class OutsideWindowOfferError(ConflictError):
    """The 48-hour window is over; what else may reach the driver is named in the message."""

    code = "outside_customer_service_window"
    message_zh = "用户48小时内未与公众号互动，无法发送客服消息"


class SupportUnavailableError(DomainError):
    """No Official Account client is configured to carry the agent's message."""

    code = "wechat_not_configured"
    status = 503
    message_zh = "公众号未配置，无法发送客服消息"


class SupportEvents(Protocol):
    """Live updates to the agents' consoles (every worker's)."""

    async def publish(self, event: dict[str, Any]) -> None:
        """Send an event to every listening console."""
        ...


def outside_window_message(subscribe: bool, sms: bool) -> str:
    """The 409's Chinese message, offering what the driver authorised instead."""
    offers = [name for name, ok in (("订阅消息", subscribe), ("短信", sms)) if ok]
    if not offers:
        return (
            f"{OutsideWindowOfferError.message_zh}，且用户未授权订阅消息或短信，请等待用户再次留言"
        )
    return f"{OutsideWindowOfferError.message_zh}，可改用{'或'.join(offers)}通知用户"


def estimated_wait(position: int, minutes_per_chat: int) -> int:
    """Rough minutes until an agent answers the driver at this place in the queue."""
    return max(1, position * minutes_per_chat)


def parse_rating(text: str) -> int | None:
    """A 1-5 rating typed by the driver ("5", "５分", "4星"), else None."""
    folded = text.strip().translate(str.maketrans("１２３４５", "12345")).rstrip("分星 ")
    return int(folded) if folded in {"1", "2", "3", "4", "5"} else None


def mask_openid(openid: str) -> str:
    """The first four and last four characters of an openid."""
    return openid if len(openid) <= 8 else f"{openid[:4]}****{openid[-4:]}"


def mask_phone(phone: str | None) -> str | None:
    """A phone number with its middle four digits hidden."""
    if phone is None or len(phone) < 7:
        return phone
    return f"{phone[:3]}****{phone[-4:]}"


@dataclass(frozen=True, slots=True)
class HandledConversation:
    """What the metrics read of one conversation."""

    agent: str
    created_at: datetime
    claimed_at: datetime
    first_response_at: datetime | None
    closed_at: datetime | None
    rating: int | None


@dataclass(frozen=True, slots=True)
class AgentDay:
    """One agent's day: how many, how long drivers waited, answers, handling, ratings."""

    agent: str
    conversations: int
    waiting_seconds: float
    first_response_seconds: float | None
    handling_seconds: float | None
    ratings: int
    rating_average: float | None


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def agent_days(conversations: Iterable[HandledConversation]) -> list[AgentDay]:
    """Averages per agent of the conversations they claimed (one day's, by the caller)."""
    by_agent: dict[str, list[HandledConversation]] = {}
    for item in conversations:
        by_agent.setdefault(item.agent, []).append(item)
    days = []
    for agent, items in sorted(by_agent.items()):
        waits = [(c.claimed_at - c.created_at).total_seconds() for c in items]
        firsts = [
            (c.first_response_at - c.claimed_at).total_seconds()
            for c in items
            if c.first_response_at
        ]
        handling = [(c.closed_at - c.claimed_at).total_seconds() for c in items if c.closed_at]
        ratings = [float(c.rating) for c in items if c.rating is not None]
        days.append(
            AgentDay(
                agent=agent,
                conversations=len(items),
                waiting_seconds=_mean(waits) or 0.0,
                first_response_seconds=_mean(firsts),
                handling_seconds=_mean(handling),
                ratings=len(ratings),
                rating_average=_mean(ratings),
            )
        )
    return days


class AgentSender(Protocol):
    """Customer-service messages an agent sends through the Official Account."""

    async def send_text(self, openid: str, text: str) -> None:
        """Send a text; WeChatUnavailableError when WeChat refuses or cannot be reached."""
        ...

    async def send_miniprogram_page(
        self, openid: str, title: str, appid: str, pagepath: str
    ) -> None:
        """Send a mini-program card."""
        ...


@dataclass(frozen=True, slots=True)
class SupportPorts:
    """What the support use cases need beyond the unit of work and the clock."""

    events: SupportEvents
    sender: AgentSender | None
    idle_after: timedelta
    minutes_per_chat: int
    miniprogram_appid: str | None = None
    wechat_customer_service: frozenset[str] = frozenset()  # appids handed to WeChat's own
