"""WeChat users of the sandbox: one unionid per person, one openid per person and app."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

CODE_VALID = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class WeChatUser:
    """A person as one app sees them."""

    appid: str
    openid: str
    unionid: str


@dataclass(slots=True)
class _Code:
    user: WeChatUser
    issued_at: datetime
    phone: str | None = None
    used: bool = False


@dataclass
class Directory:
    """Issues openids, one-time login and phone codes, and subscribe authorisations."""

    apps: dict[str, str]  # appid -> secret
    _codes: dict[str, _Code] = field(default_factory=dict)
    _users: dict[str, WeChatUser] = field(default_factory=dict)  # openid -> user
    # (openid, template_id) -> authorisations the user granted and that are not spent yet
    _grants: dict[tuple[str, str], int] = field(default_factory=dict)

    def user(self, appid: str, person: str) -> WeChatUser:
        """The stable identity of a person in an app (all apps share the unionid)."""
        user = WeChatUser(appid, _derive("o", f"{appid}:{person}", 28), _derive("o", person, 29))
        self._users[user.openid] = user
        return user

    def known(self, openid: str) -> WeChatUser | None:
        """The user an openid was issued to."""
        return self._users.get(openid)

    def issue_code(self, user: WeChatUser, now: datetime, phone: str | None = None) -> str:
        """A one-time code, as wx.login (or getPhoneNumber, with a phone) hands the app."""
        code = secrets.token_urlsafe(24)
        self._codes[code] = _Code(user, now, phone)
        return code

    def redeem(self, code: str, appid: str, now: datetime, *, phone: bool = False) -> _Code | None:
        """Spend a code of this app once, within five minutes; None when it is not valid."""
        found = self._codes.get(code)
        if found is None or found.used or found.user.appid != appid:
            return None
        if now - found.issued_at > CODE_VALID or (found.phone is not None) != phone:
            return None
        found.used = True
        return found

    def grant(self, openid: str, template_id: str, count: int = 1) -> int:
        """The user accepts a subscribe message (wx.requestSubscribeMessage) count times."""
        key = (openid, template_id)
        self._grants[key] = self._grants.get(key, 0) + count
        return self._grants[key]

    def spend(self, openid: str, template_id: str) -> bool:
        """Use one authorisation; False when the user has none left for the template."""
        key = (openid, template_id)
        if self._grants.get(key, 0) <= 0:
            return False
        self._grants[key] -= 1
        return True

    def remaining(self, openid: str, template_id: str) -> int:
        """Authorisations left for one user and template."""
        return self._grants.get((openid, template_id), 0)


def _derive(prefix: str, seed: str, length: int) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(seed.encode()).digest()).decode()
    return (prefix + digest.replace("=", ""))[:length]
