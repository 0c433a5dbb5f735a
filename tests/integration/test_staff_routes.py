"""Every staff route with every role; login, lock-out, tokens and the audit chain over HTTP."""

from __future__ import annotations

import asyncio
import functools
import re
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select, text, update

from config.settings import Settings
from core import driver_tokens, passwords, staff_tokens
from core.audit import ProblemKind
from core.clock import FrozenClock
from core.services import audit
from core.staff import CITY_WIDE, ROLE_PERMISSIONS, Permission, Role, Scope, parse_scope
from core.store.activity import AuditRow
from core.store.database import Database
from core.store.people import DriverRow, StaffRow
from core.store.unit_of_work import UnitOfWork
from miniprogram_api import auto_pay as mp_auto_pay
from ops_api.app import ROUTE_TABLES
from ops_api.commands import (
    DEMO_PASSWORD,
    DEMO_STAFF,
    create_staff_command,
    seed_demo_staff,
    verify_audit_command,
)
from server.http import Endpoint

Client = TestClient[Any, Any]
PASSWORD = "walk-every-route-2026"


@functools.cache
def _password_hash() -> str:
    return passwords.hash(PASSWORD)


def _protected() -> list[Endpoint]:
    return [e for table in ROUTE_TABLES for e in table.endpoints if e.permission is not None]


async def make_staff(
    database: Database,
    clock: FrozenClock,
    role: Role,
    *,
    username: str | None = None,
    scope: Scope = CITY_WIDE,
) -> int:
    """A city-wide (by default) account with PASSWORD, stored directly."""
    async with UnitOfWork(database.sessions) as uow:
        row = StaffRow(
            username=username or f"walk-{role.value.replace('_', '-')}",
            display_name=role.value,
            role=role.value,
            password_hash=_password_hash(),
            active=True,
            failed_logins=0,
            locked_until=None,
            created_at=clock.now(),
            merchant_code="M-TIANYI-CAFE" if role is Role.MERCHANT else None,
        )
        await uow.staff.add(row, scope)
        await uow.commit()
        return row.id


def token_of(settings: Settings, clock: FrozenClock, staff_id: int, role: Role) -> str:
    secret = settings.secret_key.get_secret_value()
    return staff_tokens.issue(staff_id, role.value, clock.now(), 30, secret).token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def call(client: Client, endpoint: Endpoint, headers: dict[str, str]) -> tuple[int, Any]:
    """Call an endpoint with placeholder path parameters and, for a body, an empty object."""
    path = "/ops" + re.sub(r"\{[^}]+\}", "x", endpoint.path)
    kwargs: dict[str, Any] = {"headers": headers}
    if endpoint.body is not None:
        kwargs["json"] = {}
    async with client.request(endpoint.method, path, **kwargs) as response:
        if response.content_type == "text/event-stream":  # a live stream never ends: let it go
            return response.status, {"code": "stream"}
        if response.content_type != "application/json":  # a CSV export, when allowed
            return response.status, {"code": None, "text": await response.text()}
        return response.status, await response.json()


async def log_in(client: Client, username: str, password: str) -> tuple[int, Any]:
    body = {"username": username, "password": password}
    async with client.post("/ops/login", json=body) as response:
        return response.status, await response.json()


async def get(client: Client, path: str, token: str) -> tuple[int, Any]:
    async with client.get(path, headers=bearer(token)) as response:
        return response.status, await response.json()


def test_every_declared_permission_exists() -> None:
    assert _protected(), "no protected staff route found"
    for endpoint in _protected():
        assert endpoint.permission in set(Permission), endpoint.path


@pytest.mark.parametrize("role", list(Role))
async def test_every_staff_route_with_every_role(
    role: Role, client: Client, database: Database, clock: FrozenClock, settings: Settings
) -> None:
    token = token_of(settings, clock, await make_staff(database, clock, role), role)
    for endpoint in _protected():
        where = f"{endpoint.method} {endpoint.path} as {role}"
        status, body = await call(client, endpoint, {})
        assert (status, body["code"]) == (401, "unauthenticated"), where
        status, body = await call(client, endpoint, bearer("not-a-token"))
        assert status == 401, where
        status, body = await call(client, endpoint, bearer(token))
        if Permission(str(endpoint.permission)) in ROLE_PERMISSIONS[role]:
            assert status not in (401, 403), f"{where}: {status} {body}"
        else:
            assert (status, body["code"]) == (403, "forbidden"), where
            assert body["message"] == "无权执行此操作"


async def test_login_gives_a_token_for_me(client: Client, clock: FrozenClock) -> None:
    status, body = await log_in(client, "demo-admin", DEMO_PASSWORD)
    assert status == 200, body
    assert body["role"] == "admin" and body["token_type"] == "Bearer"
    assert body["expires_at"].startswith("2026-11-25T01:30:00")
    status, me = await get(client, "/ops/me", body["token"])
    assert status == 200, me
    assert me["username"] == "demo-admin" and me["role_name"] == "管理员"
    assert set(me["permissions"]) == {p.value for p in Permission}
    assert me["city_wide"] is True


async def test_demo_accounts_have_their_roles_and_scopes(client: Client) -> None:
    for demo in DEMO_STAFF:
        status, body = await log_in(client, demo.username, DEMO_PASSWORD)
        assert status == 200, (demo.username, body)
        status, me = await get(client, "/ops/me", body["token"])
        assert me["role"] == demo.role.value
    status, body = await log_in(client, "demo-cashier", DEMO_PASSWORD)
    _, me = await get(client, "/ops/me", body["token"])
    assert me["scope"] == {"operators": [], "districts": [], "lots": ["LOT-HOSP"]}


async def test_wrong_password_and_unknown_user_look_the_same(client: Client) -> None:
    wrong = await log_in(client, "demo-admin", "not-the-password")
    unknown = await log_in(client, "nobody-here", "not-the-password")
    assert wrong == unknown == (401, {"code": "unauthenticated", "message": "用户名或密码错误"})


async def test_lockout_after_failures_over_http(
    client: Client, database: Database, clock: FrozenClock, settings: Settings
) -> None:
    limit = settings.staff_max_failed_logins
    for _ in range(limit - 1):
        assert (await log_in(client, "demo-viewer", "wrong-password"))[0] == 401
    minutes = settings.staff_lockout_minutes
    async with client.post(
        "/ops/login", json={"username": "demo-viewer", "password": "wrong-password"}
    ) as response:
        assert (response.status, await response.json()) == (
            403,
            {"code": "account_locked", "message": f"账号已锁定，请{minutes}分钟后再试"},
        )
        assert response.headers["Retry-After"] == str(minutes * 60)
    # Even the right password waits out the lock.
    clock.advance(timedelta(minutes=minutes - 1, seconds=30))
    assert await log_in(client, "demo-viewer", DEMO_PASSWORD) == (
        403,
        {"code": "account_locked", "message": "账号已锁定，请1分钟后再试"},
    )
    clock.advance(timedelta(seconds=30))
    status, body = await log_in(client, "demo-viewer", DEMO_PASSWORD)
    assert status == 200, body
    async with UnitOfWork(database.sessions) as uow:
        row = await uow.staff.by_username("demo-viewer")
        assert row is not None and row.locked_until is None  # the account itself never locks
        locks = await uow.audit.page(action="staff.lock")
    assert [(link.actor, link.target) for link in locks] == [("system:login", f"staff:{row.id}")]


async def test_other_accounts_are_not_locked_by_one_lock(
    client: Client, settings: Settings
) -> None:
    for _ in range(settings.staff_max_failed_logins):
        await log_in(client, "demo-viewer", "wrong-password")
    assert (await log_in(client, "demo-finance", DEMO_PASSWORD))[0] == 200


async def test_token_expires_with_the_clock(client: Client, clock: FrozenClock) -> None:
    _, body = await log_in(client, "demo-support", DEMO_PASSWORD)
    clock.advance(timedelta(minutes=29, seconds=59))
    assert (await get(client, "/ops/me", body["token"]))[0] == 200
    clock.advance(timedelta(seconds=1))
    assert await get(client, "/ops/me", body["token"]) == (
        401,
        {"code": "unauthenticated", "message": "登录已过期，请重新登录"},
    )


async def test_deactivated_or_locked_account_loses_its_token(
    client: Client, database: Database, clock: FrozenClock
) -> None:
    _, body = await log_in(client, "demo-officer", DEMO_PASSWORD)
    async with UnitOfWork(database.sessions) as uow:
        lock = update(StaffRow).where(StaffRow.username == "demo-officer")
        await uow.session.execute(lock.values(locked_until=clock.now() + timedelta(minutes=3)))
        await uow.commit()
    status, error = await get(client, "/ops/me", body["token"])
    assert (status, error["code"]) == (403, "account_locked")
    async with UnitOfWork(database.sessions) as uow:
        off = update(StaffRow).where(StaffRow.username == "demo-officer")
        await uow.session.execute(off.values(active=False, locked_until=None))
        await uow.commit()
    status, error = await get(client, "/ops/me", body["token"])
    assert (status, error["message"]) == (401, "账号已停用，请联系管理员")
    assert (await log_in(client, "demo-officer", DEMO_PASSWORD))[0] == 401


async def test_create_staff_is_audited_and_the_account_works(client: Client) -> None:
    _, admin = await log_in(client, "demo-admin", DEMO_PASSWORD)
    new = {
        "username": "wang.li",
        "password": "a-long-password-1",
        "role": "cashier",
        "display_name": "王丽",
        "scope": {"lots": ["LOT-TIANYI"]},
        "reason": "新入职收费员",
    }
    async with client.post("/ops/staff", json=new, headers=bearer(admin["token"])) as response:
        assert response.status == 201, await response.text()
        created = await response.json()
    assert created["scope"]["lots"] == ["LOT-TIANYI"] and "password_hash" not in created
    async with client.post("/ops/staff", json=new, headers=bearer(admin["token"])) as response:
        assert (response.status, (await response.json())["message"]) == (409, "用户名已存在")
    no_reason = new | {"username": "zhao.qiang", "reason": ""}
    async with client.post("/ops/staff", json=no_reason, headers=bearer(admin["token"])) as resp:
        assert resp.status == 400
    status, page = await get(client, "/ops/audit?action=staff.create&limit=1", admin["token"])
    assert status == 200
    [link] = page["items"]
    assert (link["actor"], link["target"], link["reason"]) == (
        "demo-admin",
        f"staff:{created['id']}",
        "新入职收费员",
    )
    assert link["details"]["lots"] == ["LOT-TIANYI"]
    assert "a-long-password-1" not in str(link)
    status, body = await log_in(client, "wang.li", "a-long-password-1")
    assert (status, body["role"]) == (200, "cashier")
    status, listing = await get(client, "/ops/staff?limit=200", admin["token"])
    assert "wang.li" in {item["username"] for item in listing["items"]}
    assert listing["next_after"] is None
    status, verified = await get(client, "/ops/audit/verify", admin["token"])
    assert (status, verified["intact"], verified["problems"]) == (200, True, [])
    assert verified["checked"] == len(DEMO_STAFF) + 1


async def test_staff_list_pages_by_id(client: Client) -> None:
    _, admin = await log_in(client, "demo-admin", DEMO_PASSWORD)
    seen: list[int] = []
    after = ""
    while True:
        status, page = await get(client, f"/ops/staff?limit=3{after}", admin["token"])
        assert status == 200
        seen += [item["id"] for item in page["items"]]
        if page["next_after"] is None:
            break
        after = f"&after={page['next_after']}"
    assert seen == sorted(seen) and len(seen) == len(DEMO_STAFF)


async def test_scoped_admin_only_creates_inside_its_scope(
    client: Client, database: Database, clock: FrozenClock, settings: Settings
) -> None:
    scope = parse_scope(["district:D-HAISHU"])
    admin_id = await make_staff(database, clock, Role.ADMIN, username="haishu-admin", scope=scope)
    token = token_of(settings, clock, admin_id, Role.ADMIN)
    base = {"password": "a-long-password-1", "role": "viewer", "reason": "测试"}
    wide = base | {"username": "wide-viewer"}
    async with client.post("/ops/staff", json=wide, headers=bearer(token)) as response:
        assert (response.status, (await response.json())["message"]) == (
            403,
            "不能创建超出自身管辖范围的账号",
        )
    inside = base | {"username": "haishu-viewer", "scope": {"districts": ["D-HAISHU"]}}
    async with client.post("/ops/staff", json=inside, headers=bearer(token)) as response:
        assert response.status == 201


async def test_audit_pages_newest_first(
    client: Client, database: Database, clock: FrozenClock
) -> None:
    async with UnitOfWork(database.sessions) as uow:
        for n in range(5):
            await audit.record(uow, clock, "demo-cashier", "gate.lift", f"lane:{n}", "车牌污损")
        await uow.commit()
    _, finance = await log_in(client, "demo-finance", DEMO_PASSWORD)
    ids: list[int] = []
    before = ""
    while True:
        status, page = await get(
            client, f"/ops/audit?limit=2&actor=demo-cashier{before}", finance["token"]
        )
        assert status == 200, page
        ids += [item["id"] for item in page["items"]]
        if page["next_before"] is None:
            break
        before = f"&before={page['next_before']}"
    assert ids == sorted(ids, reverse=True) and len(ids) == 5


async def test_audit_chain_detects_tampering_in_the_database(
    client: Client, database: Database, clock: FrozenClock, settings: Settings
) -> None:
    async with UnitOfWork(database.sessions) as uow:
        for n in range(4):
            await audit.record(
                uow, clock, "demo-support", "fee.waive", f"stay:{n}", "误收", {"n": n}
            )
        await uow.commit()
    assert await verify_audit_command(settings) == 0
    _, admin = await log_in(client, "demo-admin", DEMO_PASSWORD)

    async def problems() -> list[tuple[int, str]]:
        status, body = await get(client, "/ops/audit/verify", admin["token"])
        assert status == 200
        return [(p["link_id"], p["kind"]) for p in body["problems"]]

    assert await problems() == []
    async with UnitOfWork(database.sessions) as uow:
        last = (await uow.session.execute(select(AuditRow.id).order_by(AuditRow.id.desc()))).first()
        assert last is not None
        head = last[0]
        await uow.session.execute(
            update(AuditRow).where(AuditRow.id == head - 1).values(reason="改过")
        )
        await uow.commit()
    assert await problems() == [(head - 1, ProblemKind.CHANGED)]
    assert await verify_audit_command(settings) == 1
    async with UnitOfWork(database.sessions) as uow:
        await uow.session.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": head - 1})
        await uow.commit()
    assert await problems() == [(head, ProblemKind.REMOVED)]
    async with UnitOfWork(database.sessions) as uow:
        # Swap links 2 and 3 through a free id (hash and id are unique).
        for old, new in ((2, -1), (3, 2), (-1, 3)):
            await uow.session.execute(update(AuditRow).where(AuditRow.id == old).values(id=new))
        await uow.commit()
    found = await problems()
    assert (2, ProblemKind.REORDERED) in found and (3, ProblemKind.REORDERED) in found


async def test_concurrent_appends_never_fork_the_chain(
    database: Database, clock: FrozenClock
) -> None:
    async def append(n: int) -> None:
        async with UnitOfWork(database.sessions) as uow:
            await audit.record(uow, clock, "demo-attendant", "gate.lift", f"lane:{n}", "并发")
            await asyncio.sleep(0.01)  # hold the lock a while so the others queue behind it
            await uow.commit()

    # Without the lock the chain still cannot fork (the next id is taken), but appenders fail.
    outcomes = await asyncio.gather(*(append(n) for n in range(8)), return_exceptions=True)
    assert outcomes == [None] * 8
    async with UnitOfWork(database.sessions) as uow:
        report = await audit.check_chain(uow)
        ids = list(await uow.session.scalars(select(AuditRow.id).order_by(AuditRow.id)))
    assert report.problems == []
    assert ids == list(range(1, len(DEMO_STAFF) + 9))


async def test_rolled_back_append_leaves_no_gap(database: Database, clock: FrozenClock) -> None:
    async with UnitOfWork(database.sessions) as uow:
        await audit.record(uow, clock, "demo-admin", "tariff.publish", "tariff:x", "撤回")
        await uow.rollback()
    async with UnitOfWork(database.sessions) as uow:
        link = await audit.record(uow, clock, "demo-admin", "tariff.publish", "tariff:x", "发布")
        await uow.commit()
    assert link.id == len(DEMO_STAFF) + 1
    async with UnitOfWork(database.sessions) as uow:
        assert await audit.verify(uow) == []


async def test_create_staff_command(
    settings: Settings, clock: FrozenClock, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await create_staff_command(
        settings,
        "li.ming",
        "cli-password-2026",
        "enforcement_officer",
        ["district:D-HAISHU"],
        clock=clock,
    )
    assert code == 0
    assert "created staff" in capsys.readouterr().out
    assert await create_staff_command(settings, "li.ming", "cli-password-2026", "viewer", []) == 1
    assert await create_staff_command(settings, "x.y", "cli-password-2026", "root", []) == 2
    assert await create_staff_command(settings, "x.y", "cli-password-2026", "viewer", ["bad"]) == 2
    assert "用户名已存在" in capsys.readouterr().err
    assert await verify_audit_command(settings) == 0


async def test_seeding_demo_staff_twice_adds_nothing(
    database: Database, clock: FrozenClock
) -> None:
    async with UnitOfWork(database.sessions) as uow:
        await seed_demo_staff(uow, clock)
        await uow.commit()
    async with UnitOfWork(database.sessions) as uow:
        report = await audit.check_chain(uow)
        accounts = await uow.staff.page(limit=100)
    assert (report.checked, report.problems) == (len(DEMO_STAFF), [])
    assert sorted(a.username for a in accounts) == sorted(d.username for d in DEMO_STAFF)


async def test_openapi_describes_the_staff_routes(client: Client) -> None:
    async with client.get("/openapi.json") as response:
        document = await response.json()
    paths = document["paths"]
    login = paths["/ops/login"]["post"]
    assert login["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("LoginIn")
    assert "security" not in login
    assert paths["/ops/audit"]["get"]["x-permission"] == "audit_read"
    assert paths["/ops/staff"]["post"]["x-permission"] == "staff_manage"
    assert {"StaffCreateIn", "StaffOut", "AuditPageOut", "MeOut"} <= set(
        document["components"]["schemas"]
    )


# The auto-pay routes (issue 18) are driver routes: no token is 401, a staff token of any role
# is no driver token (401), and a driver's token without WeChat Pay configured is 503.
AUTO_PAY_ROUTES = [
    e for e in mp_auto_pay.routes.endpoints if e.path.startswith(("/me/plates/{plate}/",))
]


@pytest.mark.parametrize("role", list(Role))
async def test_every_auto_pay_route_with_every_role_and_a_driver(
    role: Role, client: Client, database: Database, clock: FrozenClock, settings: Settings
) -> None:
    assert len(AUTO_PAY_ROUTES) == 3
    staff = token_of(settings, clock, await make_staff(database, clock, role), role)
    async with UnitOfWork(database.sessions) as uow:
        driver = DriverRow(unionid=f"u-walk-{role.value}", created_at=clock.now())
        uow.session.add(driver)
        await uow.commit()
    secret = settings.secret_key.get_secret_value()
    token = driver_tokens.issue(driver.id, clock.now(), 60, secret).token
    for endpoint in AUTO_PAY_ROUTES:
        path = "/mp" + endpoint.path.replace("{plate}", "浙B12345")
        where = f"{endpoint.method} {endpoint.path} as {role}"
        for headers, expected in (
            ({}, (401, "unauthenticated")),
            (bearer(staff), (401, "unauthenticated")),
            (bearer(token), (503, "payments_not_configured")),
        ):
            kwargs: dict[str, Any] = {"headers": headers}
            if endpoint.body is not None:
                kwargs["json"] = {}
            async with client.request(endpoint.method, path, **kwargs) as response:
                body = await response.json()
                assert (response.status, body["code"]) == expected, where
