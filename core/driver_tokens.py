"""Driver session tokens of the mini-program: HS256 JWTs with their own audience."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

import jwt

from core.errors import AuthenticationError

ALGORITHM = "HS256"
# The audience keeps driver and staff tokens apart although both use the same secret.
AUDIENCE = "miniprogram"
_REQUIRED = ["sub", "aud", "iat", "exp"]


@dataclass(frozen=True, slots=True)
class DriverToken:
    """A signed session token and when it stops working."""

    token: str
    expires_at: datetime


def issue(driver_id: int, now: datetime, minutes: int, secret: str) -> DriverToken:
    """Sign a session for a driver, valid for `minutes` from `now`."""
    issued = int(now.timestamp())
    expires = issued + minutes * 60
    claims = {"sub": str(driver_id), "aud": AUDIENCE, "iat": issued, "exp": expires}
    return DriverToken(jwt.encode(claims, secret, algorithm=ALGORITHM), _at(expires))


def decode(token: str, now: datetime, secret: str) -> int:
    """The driver id of a valid token; AuthenticationError when forged, foreign or expired."""
    try:
        driver_id, expires = _verified(token, secret)
    except (jwt.InvalidTokenError, KeyError, TypeError, ValueError):
        raise AuthenticationError("登录凭证无效，请重新登录", detail="invalid token") from None
    if now.timestamp() >= expires:
        raise AuthenticationError("登录已过期，请重新登录", detail="token expired")
    return driver_id


# A driver sends the same token with every request and checking its signature is most of an
# answer's CPU on the light reads; only tokens that verified are kept (a raise is not cached).
@lru_cache(maxsize=4096)
def _verified(token: str, secret: str) -> tuple[int, int]:
    """The driver id and expiry of a token whose signature and audience check."""
    # Expiry is checked by the caller against the injected clock, not PyJWT's time.time().
    claims = jwt.decode(
        token,
        secret,
        algorithms=[ALGORITHM],
        audience=AUDIENCE,
        options={"require": _REQUIRED, "verify_exp": False, "verify_iat": False},
    )
    return int(claims["sub"]), int(claims["exp"])


def _at(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
