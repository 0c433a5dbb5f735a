"""The console's cookie session: the staff token in an HttpOnly cookie, CSRF on every post."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from functools import wraps

from aiohttp import web

from config.production import is_development
from config.settings import Settings
from core.errors import AuthenticationError, PermissionDeniedError
from core.services.staff import authenticate
from core.staff import Permission, StaffIdentity
from server.resources import SETTINGS_KEY, clock, read_unit_of_work

SESSION_COOKIE = "console_session"
LOGIN_CSRF_COOKIE = "console_login_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_PATH = "/console/login"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

IDENTITY_KEY = web.RequestKey("console_identity", StaffIdentity)
CSRF_KEY = web.RequestKey("console_csrf", str)

PageHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# What each guarded page demands, so the every-page-every-role test walks them all.
PAGE_PERMISSIONS: dict[PageHandler, frozenset[Permission]] = {}


class CsrfError(PermissionDeniedError):
    """A post without the session's CSRF token: another site, or a stale page."""

    code = "csrf_failed"
    message_zh = "页面已过期，请刷新后重试"


def cookie_secure(settings: Settings) -> bool:
    """Whether cookies carry Secure: as configured, else everywhere but development."""
    if settings.console_cookie_secure is not None:
        return settings.console_cookie_secure
    return not is_development(settings)


def csrf_token(secret: str, session: str) -> str:
    """The CSRF token bound to one session cookie value."""
    return hmac.new(secret.encode(), b"csrf:" + session.encode(), hashlib.sha256).hexdigest()


def new_login_csrf() -> str:
    """A random token for the login form (double-submitted: cookie and field)."""
    return secrets.token_urlsafe(24)


def set_cookie(response: web.StreamResponse, settings: Settings, name: str, value: str) -> None:
    """Set one of the console's cookies: HttpOnly, SameSite=Strict, path /console/."""
    response.set_cookie(
        name,
        value,
        path="/console/",
        httponly=True,
        samesite="Strict",
        secure=cookie_secure(settings),
        max_age=settings.staff_token_minutes * 60,
    )


def clear_cookie(response: web.StreamResponse, name: str) -> None:
    """Forget one of the console's cookies."""
    response.del_cookie(name, path="/console/")


def _sent_csrf(request: web.Request, form: dict[str, str]) -> str:
    return request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD, "")


async def check_csrf(request: web.Request, expected: str) -> None:
    """Raise CsrfError unless the post carries `expected` in its header or form."""
    form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    sent = _sent_csrf(request, form)
    if not sent or not hmac.compare_digest(sent, expected):
        raise CsrfError(detail=f"{request.method} {request.path} without a valid CSRF token")


@web.middleware
async def session_middleware(request: web.Request, handler: PageHandler) -> web.StreamResponse:
    """Find who the cookie stands for (checked live) and refuse posts without the CSRF token."""
    settings = request.config_dict[SETTINGS_KEY]
    secret = settings.secret_key.get_secret_value()
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            async with read_unit_of_work(request) as uow:
                request[IDENTITY_KEY] = await authenticate(uow, clock(request), secret, token)
            request[CSRF_KEY] = csrf_token(secret, token)
        except (AuthenticationError, PermissionDeniedError):
            pass  # an expired or revoked session is treated as none: the login page follows
    if request.method not in SAFE_METHODS:
        if request.path == LOGIN_PATH:
            await check_csrf(request, request.cookies.get(LOGIN_CSRF_COOKIE, "") or "-")
        elif CSRF_KEY in request:
            await check_csrf(request, request[CSRF_KEY])
        else:
            raise CsrfError(detail="post without a session")
    return await handler(request)


def staff_of(request: web.Request) -> StaffIdentity:
    """The logged-in account of this request; AuthenticationError when there is none."""
    identity = request.get(IDENTITY_KEY)
    if not isinstance(identity, StaffIdentity):
        raise AuthenticationError(detail="no console session")
    return identity


def page(*permissions: Permission) -> Callable[[PageHandler], PageHandler]:
    """Guard a console handler: a session is needed, and the role must grant every permission."""

    def guard(handler: PageHandler) -> PageHandler:
        @wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            staff = staff_of(request)
            for permission in permissions:
                staff.require(permission)
            return await handler(request)

        PAGE_PERMISSIONS[guarded] = frozenset(permissions)
        return guarded

    return guard
