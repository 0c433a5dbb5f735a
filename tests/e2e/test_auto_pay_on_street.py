"""An authorised plate parks on the street: sensors open and close it, it is priced, deducted,
settled, and the ledger balances; all through the app's HTTP and the built-in sandbox."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from config.settings import Settings
from core.clock import FrozenClock
from core.services import auto_pay
from core.store.auto_pay import StayParkingRow
from core.store.unit_of_work import UnitOfWork
from sandbox.wechatpay.keys import SandboxKeys
from server.resources import DATABASE_KEY
from server.wechat import WECHAT_SERVICES_KEY
from tests.e2e.test_walking_skeleton import EXPECTED_FEE_FEN, PLATE, sensor_event, staff_token
from tests.wechat_sandbox import (
    app_with_builtin_sandbox,
    log_in_driver,
    sandbox_keys,
    verified_driver_of,
)

__all__ = ["sandbox_keys"]


async def test_sensors_price_a_stay_and_wechat_pay_deducts_it(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> None:
    client, sandbox = await app_with_builtin_sandbox(settings, clock, sandbox_keys, aiohttp_client)
    assert client.app is not None
    database = client.app[DATABASE_KEY]
    ports = client.app[WECHAT_SERVICES_KEY].auto_pay_ports

    def uows() -> UnitOfWork:
        return UnitOfWork(database.sessions)

    headers, openid = await log_in_driver(client, sandbox, "li-lei")
    await verified_driver_of(database, clock, openid, PLATE)
    setup = {"plate_number": PLATE, "plate_color": "BLUE", "openid": openid, "state": "NORMAL"}
    async with client.session.post(f"{sandbox}/sandbox/wechatpay/parking/plates", json=setup):
        pass
    shown = await client.post(f"/mp/me/plates/{quote(PLATE)}/auto-pay", headers=headers)
    assert (await shown.json())["authorised"] is True

    opened = await client.post(
        "/devices/sensors/events", json=sensor_event("a-1", "occupied", "09:00", plate=PLATE)
    )
    assert opened.status == 200, await opened.text()
    await auto_pay.sweep(uows, clock, ports)
    clock.advance(timedelta(hours=2))
    closed = await client.post(
        "/devices/sensors/events", json=sensor_event("a-2", "vacated", "11:00")
    )
    stay_ref = (await closed.json())["stay_ref"]
    await auto_pay.sweep(uows, clock, ports)
    async with uows() as uow:
        parking = await uow.session.scalar(
            select(StayParkingRow).where(StayParkingRow.stay_ref == stay_ref)
        )
    assert parking is not None and parking.state == "deducting" and parking.out_trade_no

    async with client.session.post(
        f"{sandbox}/sandbox/wechatpay/parking/deductions/{parking.out_trade_no}/complete", json={}
    ) as response:
        assert (await response.json())["notification"]["deliveries"] == [204]

    staff = {"Authorization": f"Bearer {await staff_token(client, 'demo-finance')}"}
    ledger = await client.get(f"/ops/ledger/entries/{parking.out_trade_no}", headers=staff)
    [entry] = (await ledger.json())["entries"]
    postings = {(p["account"], p["debit_fen"], p["credit_fen"]) for p in entry["postings"]}
    assert postings == {
        ("wechat_clearing:1900000101", EXPECTED_FEE_FEN, 0),
        (f"driver_receivable:{PLATE}", 0, EXPECTED_FEE_FEN),
    }
    owed = await client.get(f"/ops/ledger/accounts/driver_receivable:{PLATE}", headers=staff)
    assert (await owed.json())["balance_fen"] == 0
    payable = await client.get(f"/mp/plates/{quote(PLATE)}/stays")
    assert (await payable.json())["stays"] == []
