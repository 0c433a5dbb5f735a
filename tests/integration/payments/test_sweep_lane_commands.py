"""A payment the sweep finds paid (its notify lost) opens the exit like the notify would have.

The car waits at a hospital exit for a combined payment (its fee and the plate's city arrears);
WeChat Pay's notify never comes. The server's sweep round asks WeChat Pay, settles the
sub-orders and publishes the lane command that lets the car go, after the commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from config.settings import Settings
from core.clock import FrozenClock
from core.lanes import CommandKind, RecordingPublisher
from core.store.unit_of_work import UnitOfWork
from sandbox.wechatpay.keys import SandboxKeys
from server.lane_publishing import LANE_PUBLISHER_KEY
from server.resources import DATABASE_KEY
from server.wechat import WECHAT_SERVICES_KEY, sweep_once
from tests.e2e.test_auto_pay_combined import lane_read, street_arrears
from tests.wechat_sandbox import PLATE, balance, log_in_driver, quiet_app, sandbox_keys

__all__ = ["sandbox_keys"]


async def test_the_sweep_finding_a_combined_exit_payment_paid_opens_the_gate(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> None:
    publisher = RecordingPublisher()
    client, sandbox = await quiet_app(
        settings,
        clock,
        sandbox_keys,
        aiohttp_client,
        before_start=lambda app: app.__setitem__(LANE_PUBLISHER_KEY, publisher),
    )
    assert client.app is not None
    database = client.app[DATABASE_KEY]
    services = client.app[WECHAT_SERVICES_KEY]
    arrears = await street_arrears(database, clock)
    await lane_read(client, clock, "LOT-HOSP-E1")
    clock.advance(timedelta(hours=2))
    leaving = await lane_read(client, clock, "LOT-HOSP-X1")
    assert (leaving["gate"], leaving["fee_fen"]) == ("closed", 600)
    stay_ref = leaving["stay_ref"]

    headers, openid = await log_in_driver(client, sandbox, "han-meimei")
    started = await client.post(f"/mp/stays/{stay_ref}/payments/with-arrears", headers=headers)
    assert started.status == 200, await started.text()
    order = await started.json()
    publisher.sent.clear()
    body = dict(order["request_payment"], openid=openid, fail=[], notify=False)
    async with client.session.post(
        f"{sandbox}/sandbox/wechatpay/combine/request-payment", json=body
    ) as response:
        paid = await response.json()
    assert paid["notification"] is None  # the notify is lost
    assert set(paid["sub_orders"].values()) == {"SUCCESS"}
    assert publisher.sent == []

    # The sweep asks about combined orders left open past their expiry.
    clock.advance(timedelta(minutes=services.setup.order_minutes + 6))
    await sweep_once(client.app, services)
    opened = [c.lane for c in publisher.sent if c.kind is CommandKind.OPEN_GATE]
    assert opened == ["LOT-HOSP/X1"]
    async with UnitOfWork(database.sessions) as uow:
        parts = [await uow.payments.get(p["out_trade_no"]) for p in order["parts"]]
        owed = await uow.stays.unpaid_for_plate(PLATE)
    assert {p.stay_ref: p.status for p in parts if p} == {
        stay_ref: "paid",
        arrears[0]: "paid",
        arrears[1]: "paid",
    }
    assert owed == []
    assert await balance(database, f"driver_receivable:{PLATE}") == 0

    # A second round finds nothing new: no gate opens twice.
    publisher.sent.clear()
    await sweep_once(client.app, services)
    assert publisher.sent == []
