"""Official Account chat rules: the customer-service window and the ports to WeChat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from core.errors import ConflictError

# WeChat accepts customer-service messages for 48 hours after the user last wrote to the account.
CUSTOMER_SERVICE_WINDOW = timedelta(hours=48)


class HandoffReason(StrEnum):
    """Why a chat goes to a human."""

    ASKED = "asked"  # the driver asked for a person
    COMPLAINT = "complaint"  # a complaint or a wrong charge
    MISSED = "missed"  # the bot did not understand twice and the driver accepted a person


class OutsideWindowError(ConflictError):
    """The driver has not written in the last 48 hours (or unfollowed): WeChat refuses the send."""

    code = "outside_customer_service_window"
    message_zh = "用户48小时内未与公众号互动，无法发送客服消息"


@dataclass(frozen=True, slots=True)
class OfficialAccountUser:
    """What the user-info API says about a follower."""

    openid: str
    unionid: str | None
    subscribed: bool


class OfficialAccountDirectory(Protocol):
    """The user-info API of the Official Account."""

    async def user_info(self, openid: str) -> OfficialAccountUser:
        """The follower behind an openid; WeChatUnavailableError when WeChat cannot answer."""
        ...


class CustomerServiceSender(Protocol):
    """Customer-service messages of the Official Account."""

    async def send_text(self, openid: str, text: str) -> None:
        """Send a text; WeChatUnavailableError when WeChat refuses or cannot be reached."""
        ...


def within_window(last_message_at: datetime | None, now: datetime) -> bool:
    """Whether WeChat still accepts a customer-service message to this user."""
    return last_message_at is not None and now - last_message_at <= CUSTOMER_SERVICE_WINDOW
