"""An authorised plate leaves a lot: the gate opens once WeChat Pay accepts the deduction; the
notify settles it, or a failure or a silence leaves the stay owed (leave first, pay later)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from config.settings import Settings
from core.clock import FrozenClock
from core.lanes import CommandKind, LaneCommand, RecordingPublisher
from core.services import auto_pay
from core.services.auto_pay import AutoPayPorts
from core.store.auto_pay import StayParkingRow
from core.store.database import Database
from core.store.devices import NotificationRow
from core.store.unit_of_work import UnitOfWork
from sandbox.wechatpay.keys import SandboxKeys
from server.lane_publishing import LANE_PUBLISHER_KEY
from server.resources import DATABASE_KEY
from server.wechat import WECHAT_SERVICES_KEY
from tests.e2e.test_pay_at_the_exit import PLATE, lane_read
from tests.wechat_sandbox import log_in_driver, quiet_app, sandbox_keys, verified_driver_of

__all__ = ["sandbox_keys"]

OPEN_X1 = LaneCommand("LOT-HOSP/X1", CommandKind.OPEN_GATE)


def units(database: Database) -> Callable[[], UnitOfWork]:
    """Units of work on the test database."""
    return lambda: UnitOfWork(database.sessions)


@dataclass
class Exit:
    """A running app with an authorised driver of PLATE, and the lane's published commands."""

    client: TestClient[Any, Any]
    sandbox: str
    headers: dict[str, str]
    openid: str
    driver_id: int
    publisher: RecordingPublisher
    uows: Callable[[], UnitOfWork]
    ports: AutoPayPorts

    async def sandbox_post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.client.session.post(f"{self.sandbox}{path}", json=body) as response:
            assert response.status == 200, await response.text()
            answer: dict[str, Any] = await response.json()
            return answer

    async def parking(self, stay_ref: str) -> StayParkingRow:
        async with self.uows() as uow:
            row = await uow.session.scalar(
                select(StayParkingRow).where(StayParkingRow.stay_ref == stay_ref)
            )
        assert row is not None
        return row

    async def parking_of_open_stay(self) -> StayParkingRow:
        async with self.uows() as uow:
            row = await uow.session.scalar(select(StayParkingRow))
        assert row is not None
        return row

    async def detail(self, stay_ref: str) -> dict[str, Any]:
        shown = await self.client.get(f"/mp/me/stays/{stay_ref}", headers=self.headers)
        assert shown.status == 200, await shown.text()
        body: dict[str, Any] = await shown.json()
        return body

    async def notices(self) -> list[tuple[str, str]]:
        async with self.uows() as uow:
            rows = await uow.session.scalars(
                select(NotificationRow).where(
                    NotificationRow.driver_id == self.driver_id,
                    NotificationRow.kind == "arrears_reminder",
                )
            )
            return [(n.kind, n.reference) for n in rows]

    def opened(self) -> list[LaneCommand]:
        return [
            LaneCommand(c.lane, c.kind)
            for c in self.publisher.sent
            if c.kind is CommandKind.OPEN_GATE
        ]


async def start(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
    deduction: str = "SUCCESS",
    *,
    auto_complete: bool = False,
) -> Exit:
    """The app as `make run` serves it (the sweep off), a driver who authorised PLATE.

    Unless `auto_complete`, the test completes each deduction itself.
    """
    publisher = RecordingPublisher()
    client, sandbox = await quiet_app(
        settings,
        clock,
        sandbox_keys,
        aiohttp_client,
        before_start=lambda app: app.__setitem__(LANE_PUBLISHER_KEY, publisher),
        sandbox_deduction_seconds=0.05,
    )
    assert client.app is not None
    uows = units(client.app[DATABASE_KEY])
    headers, openid = await log_in_driver(client, sandbox, "han-meimei")
    driver_id = await verified_driver_of(client.app[DATABASE_KEY], clock, openid, PLATE)
    services = client.app[WECHAT_SERVICES_KEY]
    ports = services.auto_pay_ports
    at = Exit(client, sandbox, headers, openid, driver_id, publisher, uows, ports)
    setup = {
        "plate_number": PLATE,
        "plate_color": "BLUE",
        "openid": openid,
        "state": "NORMAL",
        "deduction": deduction,
        "auto_complete": auto_complete,
    }
    await at.sandbox_post("/sandbox/wechatpay/parking/plates", setup)
    shown = await client.post(f"/mp/me/plates/{quote(PLATE)}/auto-pay", headers=headers)
    assert (await shown.json())["state"] == "normal"
    return at


async def leave(at: Exit, clock: FrozenClock) -> str:
    """Enter, the entry told to WeChat Pay, two hours, the exit read; the deduction it asks."""
    assert (await lane_read(at.client, clock, "E1"))["gate"] == "open"
    assert at.client.app is not None
    await asyncio.gather(*at.client.app[WECHAT_SERVICES_KEY].lane_tasks)
    # The entry was told right after the lane's answer, off its path.
    assert (await at.parking_of_open_stay()).state == "deductible"
    at.publisher.sent.clear()
    clock.advance(timedelta(hours=2))
    exit_answer = await lane_read(at.client, clock, "X1")
    # The lane's answer never waits for WeChat Pay: it asks for payment, as for anyone.
    assert (exit_answer["gate"], exit_answer["fee_fen"]) == ("closed", 600)
    assert at.client.app is not None
    await asyncio.gather(*at.client.app[WECHAT_SERVICES_KEY].lane_tasks)
    return str(exit_answer["stay_ref"])


async def test_the_gate_opens_on_the_accepted_deduction_and_the_notify_settles_it(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> None:
    at = await start(settings, clock, sandbox_keys, aiohttp_client)
    stay_ref = await leave(at, clock)

    # Accepted, not paid: the car goes now, the stay shows the deduction pending.
    parking = await at.parking(stay_ref)
    assert parking.state == "deducting" and parking.out_trade_no
    assert at.opened() == [OPEN_X1]
    texts = [c.text for c in at.publisher.sent if c.kind is CommandKind.DISPLAY]
    assert texts[-1] == f"{PLATE} 无感支付扣费中 一路顺风"
    pending = await at.detail(stay_ref)
    assert (pending["auto_pay"], pending["paid"]) == ("deducting", False)
    assert [p["status"] for p in pending["payments"]] == ["pending"]

    done = await at.sandbox_post(
        f"/sandbox/wechatpay/parking/deductions/{parking.out_trade_no}/complete", {}
    )
    assert (done["trade_state"], done["notification"]["deliveries"]) == ("SUCCESS", [204])
    # WeChat Pay delivers the notify again: nothing changes.
    again = await at.sandbox_post(
        f"/sandbox/wechatpay/notifications/{done['notification']['id']}/redeliver", {}
    )
    assert again["deliveries"] == [204, 204]
    assert at.opened() == [OPEN_X1]  # opened once, not again on either notify
    settled = await at.detail(stay_ref)
    assert (settled["auto_pay"], settled["paid"]) == ("deducted", True)
    async with at.uows() as uow:
        stay = await uow.stays.by_ref(stay_ref)
        assert stay is not None
        details = await uow.lots.lot_stay(stay.id)
    assert details is not None and details.paid_fen == 600


async def test_a_failed_deduction_after_the_car_left_is_owed_and_told(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> None:
    at = await start(settings, clock, sandbox_keys, aiohttp_client, deduction="PAY_FAIL")
    stay_ref = await leave(at, clock)
    parking = await at.parking(stay_ref)
    assert at.opened() == [OPEN_X1]

    done = await at.sandbox_post(
        f"/sandbox/wechatpay/parking/deductions/{parking.out_trade_no}/complete", {}
    )
    assert done["trade_state"] == "PAY_FAIL"
    shown = await at.detail(stay_ref)
    assert (shown["auto_pay"], shown["paid"]) == ("failed", False)
    async with at.uows() as uow:
        owed = await uow.stays.unpaid_for_plate(PLATE)
    assert [(row.ref, due) for row, due in owed] == [(stay_ref, 600)]
    assert await at.notices() == [("arrears_reminder", f"{stay_ref}#auto-pay-failed")]


@pytest.mark.parametrize("late_result", ["SUCCESS", "never"])
async def test_a_deduction_without_a_result_in_time_is_told_as_arrears(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
    late_result: str,
) -> None:
    at = await start(settings, clock, sandbox_keys, aiohttp_client)
    stay_ref = await leave(at, clock)
    parking = await at.parking(stay_ref)
    assert at.opened() == [OPEN_X1]

    clock.advance(timedelta(minutes=at.ports.result_minutes - 1))
    await auto_pay.sweep(at.uows, clock, at.ports)
    assert await at.notices() == []  # still in time
    clock.advance(timedelta(minutes=2))
    await auto_pay.sweep(at.uows, clock, at.ports)
    await auto_pay.sweep(at.uows, clock, at.ports)  # told once, not every round
    assert await at.notices() == [("arrears_reminder", f"{stay_ref}#auto-pay-overdue")]
    async with at.uows() as uow:
        owed = await uow.stays.unpaid_for_plate(PLATE)
    assert [(row.ref, due) for row, due in owed] == [(stay_ref, 600)]

    if late_result == "SUCCESS":  # WeChat Pay deducts after all; the query finds it
        await at.sandbox_post(
            f"/sandbox/wechatpay/parking/deductions/{parking.out_trade_no}/complete",
            {"notify": False},
        )
        await auto_pay.sweep(at.uows, clock, at.ports)
        assert (await at.detail(stay_ref))["paid"] is True
    else:
        assert (await at.detail(stay_ref))["auto_pay"] == "deducting"
    async with at.uows() as uow:
        owed = await uow.stays.unpaid_for_plate(PLATE)
    assert len(owed) == (0 if late_result == "SUCCESS" else 1)


async def test_under_make_run_the_sandbox_completes_the_deduction_by_itself(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> None:
    at = await start(settings, clock, sandbox_keys, aiohttp_client, auto_complete=True)
    stay_ref = await leave(at, clock)
    assert at.opened() == [OPEN_X1]
    for _ in range(100):  # the sandbox's delay is 0.05 s; its notify settles the stay
        if (await at.parking(stay_ref)).state == "deducted":
            break
        await asyncio.sleep(0.05)
    shown = await at.detail(stay_ref)
    assert (shown["auto_pay"], shown["paid"]) == ("deducted", True)
    assert [p["status"] for p in shown["payments"]] == ["paid"]


async def test_wechat_down_at_the_exit_leaves_the_car_to_scan_until_the_sweep_asks_again(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> None:
    at = await start(settings, clock, sandbox_keys, aiohttp_client)
    down = await at.sandbox_post("/sandbox/wechatpay/parking/outage", {"calls": 0})
    assert down == {"outage_calls": 0}
    assert (await lane_read(at.client, clock, "E1"))["gate"] == "open"
    assert at.client.app is not None
    await asyncio.gather(*at.client.app[WECHAT_SERVICES_KEY].lane_tasks)
    at.publisher.sent.clear()
    clock.advance(timedelta(hours=2))
    await at.sandbox_post("/sandbox/wechatpay/parking/outage", {"calls": 1})
    leaving = await lane_read(at.client, clock, "X1")
    await asyncio.gather(*at.client.app[WECHAT_SERVICES_KEY].lane_tasks)
    stay_ref = leaving["stay_ref"]

    # No answer: the gate stays closed and the lane keeps asking for the ordinary payment.
    assert at.opened() == [] and leaving["pay_url"]
    parking = await at.parking(stay_ref)
    assert parking.state == "deducting"
    async with at.uows() as uow:
        steps = [(s.step, s.outcome) for s in await uow.auto_pay.steps(stay_ref)]
    assert steps[-1] == ("deduct", "no_answer")

    # WeChat Pay is back: the sweep finds no such order, asks again with the same number.
    commands = await auto_pay.sweep(at.uows, clock, at.ports)  # the server publishes these
    again = await at.parking(stay_ref)
    assert again.out_trade_no == parking.out_trade_no
    assert [LaneCommand(c.lane, c.kind) for c in commands if c.kind is CommandKind.OPEN_GATE] == [
        OPEN_X1
    ]
    await at.sandbox_post(
        f"/sandbox/wechatpay/parking/deductions/{parking.out_trade_no}/complete", {}
    )
    assert (await at.detail(stay_ref))["paid"] is True


async def test_a_deduction_settling_after_the_driver_paid_at_the_exit_is_refunded(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> None:
    at = await start(settings, clock, sandbox_keys, aiohttp_client)
    stay_ref = await leave(at, clock)
    parking = await at.parking(stay_ref)
    # The driver scanned the lane's code too and paid before the deduction's result.
    started = await at.client.post(
        f"/mp/stays/{stay_ref}/payments",
        json={"idempotency_key": "scan-at-the-exit-0001"},
        headers=at.headers,
    )
    assert started.status == 200, await started.text()
    order = await started.json()
    await at.sandbox_post(
        "/sandbox/wechatpay/request-payment", dict(order["request_payment"], openid=at.openid)
    )
    await at.sandbox_post(
        f"/sandbox/wechatpay/parking/deductions/{parking.out_trade_no}/complete", {}
    )
    async with at.uows() as uow:
        settled = await uow.payments.settled_for_stay(stay_ref)
        refunds = await uow.payments.refunds_of(parking.out_trade_no or "")
        stay = await uow.stays.by_ref(stay_ref)
        assert stay is not None
        details = await uow.lots.lot_stay(stay.id)
    assert settled is not None and settled.out_trade_no == order["payment"]["out_trade_no"]
    assert [(r.amount_fen, r.status) for r in refunds] == [(600, "processing")]
    assert details is not None and details.paid_fen == 600  # held once, not twice
