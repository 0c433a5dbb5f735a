"""WeChat Pay consumer complaints (消费者投诉 2.0) as the platform sees them, and their port."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from core.appeals import Category
from core.errors import ConflictError

COMPLAINT_EVENTS = ("COMPLAINT.CREATE", "COMPLAINT.STATE_CHANGE")
# WeChat Pay asks a merchant to answer a complaint within a day of its filing.
WECHAT_ANSWER_WITHIN = timedelta(hours=24)


class NotAComplaintError(ConflictError):
    """The case is a driver's appeal, not a WeChat Pay complaint."""

    code = "not_a_complaint"
    message_zh = "该工单不是微信支付投诉"


@dataclass(frozen=True, slots=True)
class ComplaintDetail:
    """What WeChat Pay says about a complaint."""

    complaint_id: str
    sub_mchid: str
    out_trade_no: str | None
    amount_fen: int | None
    state: str
    detail: str
    problem_type: str
    complained_at: datetime


@dataclass(frozen=True, slots=True)
class ComplaintEvent:
    """One step of a complaint's negotiation history."""

    at: datetime
    operator: str
    kind: str
    details: str


class ComplaintDesk(Protocol):
    """WeChat Pay's complaint API of the service provider's sub-merchants."""

    async def detail(self, complaint_id: str) -> ComplaintDetail:
        """One complaint."""
        ...

    async def listed(self, day: str, sub_mchid: str) -> list[ComplaintDetail]:
        """A sub-merchant's complaints filed on a day (yyyy-MM-DD)."""
        ...

    async def history(self, complaint_id: str) -> list[ComplaintEvent]:
        """The negotiation history, oldest first."""
        ...

    async def respond(self, complaint_id: str, text: str) -> None:
        """Send the merchant's answer to the payer (at most 200 characters)."""
        ...

    async def complete(self, complaint_id: str) -> None:
        """Tell WeChat Pay the complaint is handled."""
        ...


def category_of(problem_type: str) -> Category:
    """Our category of WeChat's problem type."""
    return {"REFUND": Category.WRONG_FEE, "SERVICE_NOT_WORK": Category.SERVICE}.get(
        problem_type, Category.OTHER
    )


def answer_deadline(complained_at: datetime) -> datetime:
    """When WeChat Pay expects the merchant's answer."""
    return complained_at + WECHAT_ANSWER_WITHIN
