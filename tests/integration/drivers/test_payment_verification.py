"""Verified by paying: only after the stay's own scan, and then only the stays it paid."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from config.settings import Settings
from core import scan_codes
from core.clock import FrozenClock
from core.scan_codes import ScanCodeKind, ScanTarget
from core.store.activity import StayRow
from core.store.database import Database
from core.store.unit_of_work import UnitOfWork
from sandbox.driver_services import DEMO_REGISTER
from tests.wechat_sandbox import (
    PLATE,
    Driver,
    closed_stay,
    confirm,
    log_in,
    start_payment,
    street_stay,
)

VIN, OWNER = DEMO_REGISTER[PLATE]


def berth_code(settings: Settings, berth: str) -> str:
    target = ScanTarget(ScanCodeKind.BERTH, berth=berth)
    return scan_codes.issue(target, settings.secret_key.get_secret_value(), 1)


async def scan(client: TestClient[Any, Any], payload: str, driver: Driver) -> Any:
    response = await client.post("/mp/scan", json={"payload": payload}, headers=driver.headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def pay(
    client: TestClient[Any, Any], server: TestServer, driver: Driver, ref: str, key: str
) -> None:
    await confirm(client, server, await start_payment(client, driver, ref, key), driver)


async def seen(client: TestClient[Any, Any], driver: Driver) -> list[str]:
    body = await (await client.get("/mp/me/stays", headers=driver.headers)).json()
    return [s["ref"] for s in body["stays"]]


async def test_a_stranger_paying_one_stay_sees_only_that_stay(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
    settings: Settings,
) -> None:
    owner_stay = await closed_stay(database, clock, 800)  # the owner's earlier stay, unpaid
    clock.advance(timedelta(hours=1))
    parked = await street_stay(database, status="open", exited_at=clock.now(), berth_code="HS1-002")
    stranger = await log_in(paying_client, wechat_sandbox, "stranger")
    await paying_client.post("/mp/me/plates", json={"plate": PLATE}, headers=stranger.headers)
    busy = await scan(paying_client, berth_code(settings, "HS1-002"), stranger)
    assert [s["ref"] for s in busy["stays"]] == [parked]
    async with UnitOfWork(database.sessions) as uow:  # the car leaves; its fee is set
        closing = update(StayRow).where(StayRow.ref == parked)
        await uow.session.execute(
            closing.values(status="closed", exited_at=clock.now(), fee_fen=100)
        )
        await uow.commit()
    await pay(paying_client, wechat_sandbox, stranger, parked, "tap-stranger-1")

    plates = await (await paying_client.get("/mp/me/plates", headers=stranger.headers)).json()
    [plate] = plates["plates"]
    assert (plate["verified"], plate["verified_by"], plate["paid_stays_only"]) == (
        False,
        "payment",
        True,
    )
    # Before the fix: every stay of the plate, with places, times and images.
    assert await seen(paying_client, stranger) == [parked]
    mine = await paying_client.get(f"/mp/me/stays/{parked}", headers=stranger.headers)
    assert mine.status == 200, await mine.text()
    other = await paying_client.get(f"/mp/me/stays/{owner_stay}", headers=stranger.headers)
    assert (other.status, (await other.json())["code"]) == (403, "binding_not_verified")
    current = await paying_client.get("/mp/me/stays/current", headers=stranger.headers)
    assert (await current.json())["stays"] == []

    # A 行驶证 check verifies it otherwise: then the plate's whole history shows.
    right = await paying_client.post(
        f"/mp/me/plates/{PLATE}/licence",
        json={"vin": VIN, "owner_name": OWNER},
        headers=stranger.headers,
    )
    assert ((await right.json())["verified"], (await right.json())["paid_stays_only"]) == (
        True,
        False,
    )
    assert await seen(paying_client, stranger) == [parked, owner_stay]


async def test_a_scan_of_another_stay_does_not_count(
    paying_client: TestClient[Any, Any],
    wechat_sandbox: TestServer,
    database: Database,
    clock: FrozenClock,
    settings: Settings,
) -> None:
    driver = await log_in(paying_client, wechat_sandbox, "li-lei")
    await paying_client.post("/mp/me/plates", json={"plate": PLATE}, headers=driver.headers)
    await scan(paying_client, berth_code(settings, "HS1-003"), driver)  # an empty berth
    ref = await closed_stay(database, clock, 800)
    await pay(paying_client, wechat_sandbox, driver, ref, "tap-li-lei-1")
    plates = await (await paying_client.get("/mp/me/plates", headers=driver.headers)).json()
    assert plates["plates"][0]["verified_by"] is None
    assert await seen(paying_client, driver) == []
