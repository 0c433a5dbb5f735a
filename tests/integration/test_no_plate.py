"""Cars without plates on both databases: the camera asks for a scan; the stay is the driver's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from config.settings import Settings
from core import driver_tokens
from core.clock import FrozenClock
from core.store.people import DriverRow
from core.store.unit_of_work import UnitOfWork
from tests.integration.test_lanes import read

Client = TestClient[Any, Any]


async def driver_headers(
    uow_factory: Callable[[], UnitOfWork], clock: FrozenClock, settings: Settings
) -> dict[str, str]:
    async with uow_factory() as uow:
        row = DriverRow(created_at=clock.now())
        uow.session.add(row)
        await uow.commit()
        driver_id = row.id
    secret = settings.secret_key.get_secret_value()
    token = driver_tokens.issue(driver_id, clock.now(), 600, secret).token
    return {"Authorization": f"Bearer {token}"}


async def scan(client: Client, headers: dict[str, str], lane: str, status: int = 200) -> Any:
    async with client.post(f"/mp/lanes/LOT-HOSP/{lane}/scan", headers=headers) as response:
        assert response.status == status, await response.text()
        return await response.json()


async def test_a_car_without_plates_scans_in_and_out(
    client: Client,
    clock: FrozenClock,
    uow_factory: Callable[[], UnitOfWork],
    settings: Settings,
) -> None:
    camera = await read(client, clock, "LOT-HOSP", "E1", None)
    assert (camera["action"], camera["reason"], camera["display"]) == (
        "refuse",
        "no_plate",
        "无牌车请扫码入场",
    )
    assert camera["pay_url"].endswith("lot=LOT-HOSP&lane=E1")
    headers = await driver_headers(uow_factory, clock, settings)
    await scan(client, {}, "E1", status=401)
    entered = await scan(client, headers, "E1")
    assert (entered["action"], entered["commands"][0]["kind"]) == ("open", "open_gate")
    twice = await scan(client, headers, "E1")
    assert twice["stay_ref"] == entered["stay_ref"]
    clock.advance(timedelta(hours=1))
    left = await scan(client, headers, "X1")
    assert (left["action"], left["fee_fen"], left["stay_ref"]) == ("pay", 300, entered["stay_ref"])
    async with uow_factory() as uow:
        stay = await uow.stays.by_ref(entered["stay_ref"])
        assert stay is not None and (stay.plate, stay.status) == (None, "closed")


async def test_an_exit_scan_without_an_entry_is_refused(
    client: Client, clock: FrozenClock, uow_factory: Callable[[], UnitOfWork], settings: Settings
) -> None:
    headers = await driver_headers(uow_factory, clock, settings)
    answer = await scan(client, headers, "X1", status=409)
    assert answer["code"] == "no_plate_stay_missing"
