"""Short-lived staff bearer tokens: HS256 JWTs checked against the injected clock."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt

from core.errors import AuthenticationError

ALGORITHM = "HS256"
_REQUIRED = ["sub", "role", "jti", "iat", "exp"]
# A token stamped slightly ahead of this server's clock (another worker's drift) is accepted.
_CLOCK_SKEW_SECONDS = 30


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly signed token and when it stops working."""

    token: str
    token_id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a valid token says about its bearer."""

    staff_id: int
    role: str
    token_id: str
    issued_at: datetime
    expires_at: datetime


def issue(staff_id: int, role: str, now: datetime, minutes: int, secret: str) -> IssuedToken:
    """Sign a token for a staff account, valid for `minutes` from `now`."""
    issued = int(now.timestamp())
    expires = issued + minutes * 60
    token_id = uuid.uuid4().hex
    claims = {"sub": str(staff_id), "role": role, "jti": token_id, "iat": issued, "exp": expires}
    token = jwt.encode(claims, secret, algorithm=ALGORITHM)
    return IssuedToken(token, token_id, datetime.fromtimestamp(expires, UTC))


def decode(token: str, now: datetime, secret: str) -> TokenClaims:
    """The claims of a valid token; AuthenticationError when it is forged, malformed or expired."""
    try:
        # Time claims are checked below against the injected clock, not PyJWT's time.time().
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={
                "require": _REQUIRED,
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
        staff_id = int(claims["sub"])
        issued, expires = int(claims["iat"]), int(claims["exp"])
        role, token_id = str(claims["role"]), str(claims["jti"])
    except (jwt.InvalidTokenError, KeyError, TypeError, ValueError):
        raise AuthenticationError("登录凭证无效，请重新登录", detail="invalid token") from None
    moment = now.timestamp()
    if moment >= expires:
        raise AuthenticationError("登录已过期，请重新登录", detail="token expired")
    if issued > moment + _CLOCK_SKEW_SECONDS:
        raise AuthenticationError("登录凭证无效，请重新登录", detail="token issued in the future")
    return TokenClaims(
        staff_id=staff_id,
        role=role,
        token_id=token_id,
        issued_at=datetime.fromtimestamp(issued, UTC),
        expires_at=datetime.fromtimestamp(expires, UTC),
    )
