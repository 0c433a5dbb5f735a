"""An authorised plate leaves a lot: the exit is priced, the fee deducted, the gate opens on it."""

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
from core.lanes import CommandKind, LaneCommand, RecordingPublisher
from core.services import auto_pay
from core.store.auto_pay import StayParkingRow
from core.store.database import Database
from core.store.people import DriverOpenidRow, VehicleBindingRow, VehicleRow
from core.store.unit_of_work import UnitOfWork
from sandbox.wechatpay.keys import SandboxKeys
from server.lane_publishing import LANE_PUBLISHER_KEY
from server.resources import DATABASE_KEY
from server.wechat import WECHAT_SERVICES_KEY
from tests.e2e.test_pay_at_the_exit import PLATE, lane_read
from tests.wechat_sandbox import app_with_builtin_sandbox, log_in_driver, sandbox_keys

__all__ = ["sandbox_keys"]


def units(database: Database) -> Callable[[], UnitOfWork]:
    """Units of work on the test database."""
    return lambda: UnitOfWork(database.sessions)


async def test_an_authorised_plate_leaves_a_lot_on_a_confirmed_deduction(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> None:
    publisher = RecordingPublisher()
    client, sandbox = await app_with_builtin_sandbox(
        settings,
        clock,
        sandbox_keys,
        aiohttp_client,
        before_start=lambda app: app.__setitem__(LANE_PUBLISHER_KEY, publisher),
    )
    assert client.app is not None
    database = client.app[DATABASE_KEY]
    ports = client.app[WECHAT_SERVICES_KEY].auto_pay_ports
    uows = units(database)

    headers, openid = await log_in_driver(client, sandbox, "han-meimei")
    async with uows() as uow:
        driver_id = await uow.session.scalar(
            select(DriverOpenidRow.driver_id).where(DriverOpenidRow.openid == openid)
        )
        assert driver_id is not None
        vehicle = VehicleRow(plate=PLATE, plate_colour="BLUE")
        uow.session.add(vehicle)
        await uow.session.flush()
        uow.session.add(
            VehicleBindingRow(
                driver_id=driver_id,
                vehicle_id=vehicle.id,
                created_at=clock.now(),
                verified_at=clock.now(),
                verified_by="licence",
            )
        )
        await uow.commit()
    setup = {"plate_number": PLATE, "plate_color": "BLUE", "openid": openid, "state": "NORMAL"}
    async with client.session.post(f"{sandbox}/sandbox/wechatpay/parking/plates", json=setup):
        pass
    shown = await client.post(f"/mp/me/plates/{quote(PLATE)}/auto-pay", headers=headers)
    assert (await shown.json())["state"] == "normal"

    assert (await lane_read(client, clock, "E1"))["gate"] == "open"
    await auto_pay.sweep(uows, clock, ports)  # the entry is told off the lane's path
    clock.advance(timedelta(hours=2))
    exit_answer = await lane_read(client, clock, "X1")
    assert (exit_answer["gate"], exit_answer["fee_fen"]) == ("closed", 600)
    stay_ref = exit_answer["stay_ref"]
    publisher.sent.clear()

    await auto_pay.sweep(uows, clock, ports)
    async with uows() as uow:
        parking = await uow.session.scalar(
            select(StayParkingRow).where(StayParkingRow.stay_ref == stay_ref)
        )
    assert parking is not None and parking.state == "deducting"
    # Accepted is not paid: the gate stays closed until the result.
    assert not [c for c in publisher.sent if c.kind is CommandKind.OPEN_GATE]
    async with client.session.post(
        f"{sandbox}/sandbox/wechatpay/parking/deductions/{parking.out_trade_no}/complete", json={}
    ) as response:
        done = await response.json()
    assert (done["trade_state"], done["notification"]["deliveries"]) == ("SUCCESS", [204])
    assert LaneCommand("LOT-HOSP/X1", CommandKind.OPEN_GATE) in [
        LaneCommand(c.lane, c.kind) for c in publisher.sent
    ]
    async with uows() as uow:
        stay = await uow.stays.by_ref(stay_ref)
        assert stay is not None
        details = await uow.lots.lot_stay(stay.id)
    assert details is not None and details.paid_fen == 600
