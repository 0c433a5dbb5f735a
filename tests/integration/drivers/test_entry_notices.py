"""A verified driver is told when a bound plate parks: subscribe message, else SMS."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from core.clock import FrozenClock
from core.store.database import Database
from core.store.devices import NotificationRow
from core.store.driver_notices import NoticeDeliveryRow
from sandbox.driver_services import DEMO_REGISTER, SandboxSms
from server.driver_features import DRIVER_PORTS_KEY, send_notices
from tests.e2e.test_walking_skeleton import sensor_event
from tests.integration.drivers.conftest import ENTRY_TEMPLATE
from tests.wechat_sandbox import APPID, PLATE, Driver, log_in, sandbox_post, sandbox_url

VIN, OWNER = DEMO_REGISTER[PLATE]


async def verified_driver(
    client: TestClient[Any, Any], sandbox: TestServer, person: str, phone: str | None = None
) -> Driver:
    driver = await log_in(client, sandbox, person)
    await client.post("/mp/me/plates", json={"plate": PLATE}, headers=driver.headers)
    licence = {"vin": VIN, "owner_name": OWNER}
    verified = await client.post(
        f"/mp/me/plates/{PLATE}/licence", json=licence, headers=driver.headers
    )
    assert verified.status == 200, await verified.text()
    if phone:
        code = await sandbox_post(
            client,
            sandbox,
            "/sandbox/wechat/phone-code",
            {"appid": APPID, "person": person, "phone": phone},
        )
        kept = await client.post("/mp/me/phone", json=code, headers=driver.headers)
        assert kept.status == 200, await kept.text()
    return driver


async def deliveries(database: Database) -> list[tuple[int, str, str]]:
    async with database.sessions() as session:
        rows = await session.execute(
            select(NotificationRow.driver_id, NotificationRow.reference, NoticeDeliveryRow.channel)
            .join(NoticeDeliveryRow, NoticeDeliveryRow.notification_id == NotificationRow.id)
            .order_by(NotificationRow.id)
        )
        return [(d, r, c) for d, r, c in rows.all()]


async def park(client: TestClient[Any, Any], n: int, time: str) -> str:
    response = await client.post(
        "/devices/sensors/events", json=sensor_event(f"n-{n}", "occupied", time, plate=PLATE)
    )
    assert response.status == 200, await response.text()
    ref: str = (await response.json())["stay_ref"]
    return ref


async def leave(client: TestClient[Any, Any], n: int, time: str) -> None:
    response = await client.post(
        "/devices/sensors/events", json=sensor_event(f"n-{n}", "vacated", time)
    )
    assert response.status == 200, await response.text()


async def test_entry_is_told_by_subscribe_message_then_sms_then_not_at_all(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
) -> None:
    app = paying_client.app
    assert app is not None
    sms = app[DRIVER_PORTS_KEY].sms
    assert isinstance(sms, SandboxSms)
    owner = await verified_driver(paying_client, wechat_sandbox, "li-lei", phone="13800138000")
    unverified = await log_in(paying_client, wechat_sandbox, "han-meimei")
    await paying_client.post("/mp/me/plates", json={"plate": PLATE}, headers=unverified.headers)
    # The user accepts the template once in WeChat, and the mini-program tells us so.
    await sandbox_post(
        paying_client,
        wechat_sandbox,
        "/sandbox/wechat/subscriptions",
        {"openid": owner.openid, "template_id": ENTRY_TEMPLATE},
    )
    granted = await paying_client.post(
        "/mp/me/subscriptions",
        json={"accepted": [ENTRY_TEMPLATE, "some-other-template"]},
        headers=owner.headers,
    )
    assert granted.status == 200, await granted.text()
    grants = (await granted.json())["grants"]
    assert [(g["template_id"], g["kind"], g["remaining"]) for g in grants] == [
        (ENTRY_TEMPLATE, "stay_opened", 1)
    ]

    first = await park(paying_client, 1, "09:00")
    assert await send_notices(app) == 1
    assert await send_notices(app) == 0  # sent once
    async with paying_client.session.get(
        f"{sandbox_url(wechat_sandbox)}/sandbox/wechat/messages", params={"openid": owner.openid}
    ) as response:
        [message] = await response.json()
    assert message["template_id"] == ENTRY_TEMPLATE
    assert message["data"]["car_number1"]["value"] == PLATE
    assert message["data"]["thing2"]["value"] == "HS1-001"

    clock.advance(timedelta(hours=1))
    await leave(paying_client, 2, "10:00")
    clock.advance(timedelta(hours=1))
    second = await park(paying_client, 3, "11:00")
    # The fee of the first stay (no fee template authorised: SMS) and the second entry (the
    # entry authorisation is spent: SMS too); the unverified binder is told nothing.
    assert await send_notices(app) == 2
    assert [(m.phone, m.template, m.params) for m in sms.sent] == [
        (
            "13800138000",
            "SMS_FEE_0001",
            {"plate": PLATE, "place": "HS1-001", "exited_at": "2026-11-25 10:00", "fee": "5.00元"},
        ),
        (
            "13800138000",
            "SMS_ENTRY_0001",
            {"plate": PLATE, "place": "HS1-001", "entered_at": "2026-11-25 11:00"},
        ),
    ]
    left = await (await paying_client.get("/mp/me/subscriptions", headers=owner.headers)).json()
    assert left["grants"][0]["remaining"] == 0

    assert await deliveries(database) == [
        (owner.driver_id, first, "subscribe"),
        (owner.driver_id, first, "sms"),
        (owner.driver_id, second, "sms"),
    ]


async def test_no_authorisation_and_no_phone_sends_nothing(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
) -> None:
    app = paying_client.app
    assert app is not None
    owner = await verified_driver(paying_client, wechat_sandbox, "li-lei")
    ref = await park(paying_client, 1, "09:00")
    assert await send_notices(app) == 1
    async with paying_client.session.get(
        f"{sandbox_url(wechat_sandbox)}/sandbox/wechat/messages"
    ) as response:
        assert await response.json() == []
    assert await deliveries(database) == [(owner.driver_id, ref, "none")]
    current = await (await paying_client.get("/mp/me/stays/current", headers=owner.headers)).json()
    assert [(s["ref"], s["status"], s["fee_fen"]) for s in current["stays"]] == [(ref, "open", 0)]
