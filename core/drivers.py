"""Drivers as WeChat knows them, and the ports to WeChat's login and messaging APIs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from core.errors import AuthenticationError, DomainError


class WeChatLoginError(AuthenticationError):
    """WeChat did not accept a login or phone code (expired, used or forged)."""

    code = "wechat_code_invalid"
    message_zh = "微信登录凭证无效，请重新登录"


class WeChatUnavailableError(DomainError):
    """WeChat could not be reached or is not configured."""

    code = "wechat_unavailable"
    status = 502
    message_zh = "微信服务暂时不可用，请稍后再试"


@dataclass(frozen=True, slots=True)
class MiniProgramSession:
    """What code2session tells about the user behind a wx.login code."""

    openid: str
    unionid: str | None
    session_key: str


@dataclass(frozen=True, slots=True)
class DriverMessage:
    """Something to tell a driver in an app; `kind` picks the template."""

    appid: str
    openid: str
    kind: str
    fields: dict[str, str] = field(default_factory=dict)
    page: str | None = None


class MiniProgramAuth(Protocol):
    """The mini-program login and phone number exchanges."""

    appid: str

    async def code_to_session(self, code: str) -> MiniProgramSession:
        """Exchange a wx.login code; WeChatLoginError when WeChat refuses it."""
        ...

    async def phone_number(self, code: str) -> str:
        """Exchange a getPhoneNumber code for the phone number."""
        ...


class DriverNotifier(Protocol):
    """Tells drivers about things that happened to their money."""

    async def notify(self, message: DriverMessage) -> bool:
        """Send a message; False when it could not be delivered (no authorisation left...)."""
        ...
