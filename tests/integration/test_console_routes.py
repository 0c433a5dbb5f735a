"""Every console page with every role: no session, a role without its permissions, one with them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from config.settings import Settings
from console.app import PAGE_TABLES
from console.session import PAGE_PERMISSIONS, SESSION_COOKIE, csrf_token
from core.clock import FrozenClock
from core.staff import ROLE_PERMISSIONS, Permission, Role
from core.store.database import Database
from tests.integration.test_staff_routes import PASSWORD, make_staff

Client = TestClient[Any, Any]

# The only pages open without a session: the login form, logging in and logging out.
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("POST", "/logout")}


def _pages() -> list[tuple[str, str, frozenset[Permission] | None]]:
    """Each console route as (method, path, the permission its guard demands)."""
    found = []
    for table in PAGE_TABLES:
        for route in table:
            method, path = route.method, route.path  # type: ignore[attr-defined]
            found.append((method, path, PAGE_PERMISSIONS.get(route.handler)))  # type: ignore[attr-defined]
    return found


def _url(path: str) -> str:
    """A concrete URL for a route: `{name:a|b}` takes its first choice, other names `1`."""

    def placeholder(match: re.Match[str]) -> str:
        pattern = match.group(2)
        return pattern.split("|")[0] if pattern else "1"

    return "/console" + re.sub(r"\{(\w+)(?::([^}]+))?\}", placeholder, path)


async def _log_in(client: Client, username: str) -> str:
    """Log in through the form; the session cookie's value."""
    async with client.get("/console/login") as response:
        html = await response.text()
    token = re.search(r'name="csrf" value="([^"]+)"', html)
    assert token is not None, html[:300]
    form = {"csrf": token.group(1), "username": username, "password": PASSWORD}
    async with client.post("/console/login", data=form, allow_redirects=False) as response:
        assert response.status == 303, await response.text()
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/console/"))
    return cookie[SESSION_COOKIE].value


async def _call(client: Client, method: str, path: str, csrf: str | None) -> tuple[int, str, str]:
    """Status, Location and body of one call (a live stream is left after its headers)."""
    headers = {"X-CSRF-Token": csrf} if csrf and method == "POST" else {}
    async with client.request(
        method, _url(path), headers=headers, data={}, allow_redirects=False
    ) as response:
        location = response.headers.get("Location", "")
        if response.content_type == "text/event-stream":
            return response.status, location, ""
        return response.status, location, await response.text()


def test_every_page_is_guarded_or_named_public() -> None:
    pages = _pages()
    assert len(pages) > 30, "the console's pages were not found"
    unguarded = {(method, path) for method, path, permission in pages if permission is None}
    assert unguarded == PUBLIC


async def test_no_session_goes_to_the_login_or_is_refused(client: Client) -> None:
    for method, path, permission in _pages():
        if permission is None:
            continue
        status, location, body = await _call(client, method, path, None)
        if method == "GET":
            assert (status, location) == (303, "/console/login"), f"{method} {path}"
        else:
            assert status == 403 and 'data-code="csrf_failed"' in body, f"{method} {path}"


@pytest.mark.parametrize("role", list(Role))
async def test_every_page_with_every_role(
    role: Role, client: Client, database: Database, clock: FrozenClock, settings: Settings
) -> None:
    staff_id = await make_staff(database, clock, role, username=f"page-{role.value}")
    assert staff_id
    session = await _log_in(client, f"page-{role.value}")
    csrf = csrf_token(settings.secret_key.get_secret_value(), session)
    granted = ROLE_PERMISSIONS[role]
    for method, path, permission in _pages():
        if permission is None:
            continue
        where = f"{method} {path} as {role}"
        status, location, body = await _call(client, method, path, csrf)
        assert status < 500, f"{where}: {status} {body[:300]}"
        if permission <= granted:
            assert status != 403, f"{where}: {body[:300]}"
            assert location != "/console/login", where
        else:
            assert status == 403 and 'data-code="forbidden"' in body, f"{where}: {status}"
            assert "无权执行此操作" in body, where
