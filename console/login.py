"""Logging in and out of the console with the staff accounts of /ops/login."""

from __future__ import annotations

from aiohttp import web

from console.menu import home_of
from console.rendering import render, see_other
from console.session import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    clear_cookie,
    new_login_csrf,
    page,
    set_cookie,
    staff_of,
)
from core.errors import DomainError
from core.services import staff as staff_service
from core.staff import Permission
from ops_api.auth import login_policy
from server.rate_limits import client_address, limit_rate, login_attempts
from server.resources import SETTINGS_KEY, clock, unit_of_work

routes = web.RouteTableDef()


def _login_page(request: web.Request, message: str | None, status: int = 200) -> web.Response:
    token = new_login_csrf()
    response = render(
        request, "login.html", {"login_csrf": token, "message": message}, status=status
    )
    set_cookie(response, request.config_dict[SETTINGS_KEY], LOGIN_CSRF_COOKIE, token)
    return response


@routes.get("/login")
async def show_login(request: web.Request) -> web.Response:
    """The login form."""
    return _login_page(request, None)


@routes.post("/login")
async def log_in(request: web.Request) -> web.StreamResponse:
    """Check the password (with the lock-out of /ops/login) and start the cookie session."""
    settings = request.config_dict[SETTINGS_KEY]
    form = await request.post()
    try:
        await limit_rate(request, "login", settings.login_rate_per_minute)
        async with unit_of_work(request) as uow:
            result = await staff_service.log_in(
                uow,
                clock(request),
                login_policy(settings),
                str(form.get("username", ""))[:64],
                str(form.get("password", ""))[:128],
                client=client_address(request),
                attempts=login_attempts(request),
            )
    except DomainError as exc:
        return _login_page(request, exc.message_zh, status=exc.status)
    response = see_other("/console/")
    set_cookie(response, settings, SESSION_COOKIE, result.token)
    clear_cookie(response, LOGIN_CSRF_COOKIE)
    return response


@routes.post("/logout")
async def log_out(request: web.Request) -> web.StreamResponse:
    """End the session (the CSRF check keeps other sites from logging one out)."""
    response = see_other("/console/login")
    clear_cookie(response, SESSION_COOKIE)
    return response


@routes.get("/")
@page(Permission.SELF)
async def home(request: web.Request) -> web.StreamResponse:
    """Send the account to the first page of its role."""
    return see_other(home_of(staff_of(request)))


@routes.get("/me")
@page(Permission.SELF)
async def me(request: web.Request) -> web.Response:
    """The account's own page: role, scope, permissions."""
    staff = staff_of(request)
    return render(request, "me.html", {"scope": staff.scope.as_dict()})
