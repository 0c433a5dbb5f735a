"""Staff authorisation for the /ops/ routes: bearer token, live account check, permission."""

from __future__ import annotations

import logging

from aiohttp import web

from config.production import demo_passwords_refused
from config.settings import Settings
from core.errors import AuthenticationError, PermissionDeniedError
from core.services.staff import LoginPolicy, authenticate
from core.staff import LockoutPolicy, Permission, StaffIdentity
from server.resources import SETTINGS_KEY, clock, unit_of_work

log = logging.getLogger(__name__)

STAFF_KEY = web.RequestKey("staff", StaffIdentity)


def login_policy(settings: Settings) -> LoginPolicy:
    """The login rules configured in settings."""
    return LoginPolicy(
        secret=settings.secret_key.get_secret_value(),
        token_minutes=settings.staff_token_minutes,
        lockout=LockoutPolicy(settings.staff_max_failed_logins, settings.staff_lockout_minutes),
        refuse_demo_password=demo_passwords_refused(settings),
        max_lock_minutes=settings.staff_lockout_max_minutes,
    )


def bearer_token(request: web.Request) -> str:
    """The token of an `Authorization: Bearer <token>` header, or a 401."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError(detail="missing bearer token")
    return token.strip()


async def authorize(request: web.Request, permission: str) -> None:
    """Let the request through only for a live staff account whose role grants `permission`."""
    token = bearer_token(request)
    try:
        needed = Permission(permission)
    except ValueError:
        # A route declaring a permission no role can hold is a bug; refuse rather than guess.
        log.error("route %s demands unknown permission %r", request.path, permission)
        raise PermissionDeniedError(detail=f"unknown permission {permission}") from None
    secret = request.config_dict[SETTINGS_KEY].secret_key.get_secret_value()
    async with unit_of_work(request) as uow:
        identity = await authenticate(uow, clock(request), secret, token)
    if not identity.may(needed):
        log.info(
            "staff %s (%s) denied %s on %s", identity.username, identity.role, needed, request.path
        )
        raise PermissionDeniedError(detail=f"{identity.role} lacks {needed}")
    request[STAFF_KEY] = identity


def acting_staff(request: web.Request) -> StaffIdentity:
    """The staff account `authorize` let through for this request."""
    identity = request.get(STAFF_KEY)
    if not isinstance(identity, StaffIdentity):
        raise AuthenticationError(detail="route has no permission, so no staff is known")
    return identity
