"""The console's session over HTTP: cookie flags, CSRF on every post, safe headers, redirects."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from config.settings import Settings
from console.banner import banner
from console.security import CSP
from ops_api.commands import DEMO_PASSWORD

Client = TestClient[Any, Any]


def _token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, html[:300]
    return found.group(1)


async def _log_in(client: Client, username: str = "demo-officer") -> str:
    async with client.get("/console/login") as response:
        token = _token(await response.text())
    form = {"csrf": token, "username": username, "password": DEMO_PASSWORD}
    async with client.post("/console/login", data=form, allow_redirects=False) as response:
        assert response.status == 303, await response.text()
        cookie = response.headers["Set-Cookie"]
        assert "console_session=" in cookie
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console/" in cookie
        assert "Secure" not in cookie  # development on loopback serves plain HTTP
    async with client.get("/console/officer/arrears") as response:
        assert response.status == 200
        return _token(await response.text())


async def test_every_page_has_the_policy_and_no_session_goes_to_the_login(client: Client) -> None:
    for path in ("/console/login", "/console/officer/arrears", "/console/static/console.js"):
        async with client.get(path, allow_redirects=False) as response:
            assert response.headers["Content-Security-Policy"] == CSP, path
            assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP
            assert response.headers["X-Frame-Options"] == "DENY"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["Referrer-Policy"] == "no-referrer"
    async with client.get("/console/officer/arrears", allow_redirects=False) as response:
        assert (response.status, response.headers["Location"]) == (303, "/console/login")
        assert response.headers["Cache-Control"] == "no-store"
    headers = {"HX-Request": "true"}
    async with client.get("/console/officer/arrears", headers=headers) as response:
        assert (response.status, response.headers["HX-Redirect"]) == (204, "/console/login")
    async with client.get("/console/login") as response:
        assert "<script>" not in await response.text()  # no inline script anywhere


async def test_posts_without_the_csrf_token_are_refused(client: Client) -> None:
    async with client.get("/console/login") as response:
        assert response.status == 200
    form = {"username": "demo-officer", "password": DEMO_PASSWORD, "csrf": "forged"}
    async with client.post("/console/login", data=form, allow_redirects=False) as response:
        assert response.status == 403
        assert "页面已过期，请刷新后重试" in await response.text()
    token = await _log_in(client)
    ref = "no-such-stay"
    note = {"note": "已张贴催缴通知单"}
    async with client.post(f"/console/officer/stays/{ref}/notices", data=note) as response:
        assert response.status == 403
        assert 'data-code="csrf_failed"' in await response.text()
    async with client.post(
        f"/console/officer/stays/{ref}/notices", data={**note, "csrf": token + "x"}
    ) as response:
        assert response.status == 403
    async with client.post(
        f"/console/officer/stays/{ref}/notices", data=note, headers={"X-CSRF-Token": token}
    ) as response:
        assert response.status == 404  # past the CSRF check: the stay does not exist
        assert "未找到该欠费记录" in await response.text()


async def test_wrong_passwords_stay_on_the_login_and_logout_ends_the_session(
    client: Client,
) -> None:
    async with client.get("/console/login") as response:
        token = _token(await response.text())
    form = {"csrf": token, "username": "demo-officer", "password": "wrong-password"}
    async with client.post("/console/login", data=form) as response:
        assert response.status == 401
        assert "用户名或密码错误" in await response.text()
    token = await _log_in(client)
    async with client.get("/console/cashier") as response:
        assert response.status == 403
        assert "无权访问（403）" in await response.text()
    async with client.post(
        "/console/logout", data={"csrf": token}, allow_redirects=False
    ) as response:
        assert response.status == 303
    async with client.get("/console/officer/arrears", allow_redirects=False) as response:
        assert response.status == 303


def test_the_cookie_is_secure_outside_development_and_when_asked() -> None:
    from console.session import cookie_secure

    assert not cookie_secure(Settings(redis_url=None, mqtt_url=None))
    assert cookie_secure(Settings(redis_url=None, mqtt_url=None, console_cookie_secure=True))
    assert cookie_secure(Settings(redis_url=None, mqtt_url=None, host="0.0.0.0"))


def test_the_banner_names_the_console_and_the_demo_accounts_only_in_development() -> None:
    lines = banner(Settings(redis_url=None, mqtt_url=None, port=8080))
    assert lines[0] == "Staff console: http://127.0.0.1:8080/console/"
    assert any("demo-officer" in line and "巡查执法员" in line for line in lines)
    production = banner(Settings(redis_url=None, mqtt_url=None, host="0.0.0.0"))
    assert production == ["Staff console: http://0.0.0.0:8080/console/"]
