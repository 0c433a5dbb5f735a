"""One bad event or stay never wedges a berth: far-off device clocks are held, a stay without a
tariff waits for a human while the berth goes on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import delete, select

from core.clock import FrozenClock
from core.store.activity import DeviceEventRow, StayRow
from core.store.city import TariffRow
from core.store.devices import StayFlagRow
from core.store.unit_of_work import UnitOfWork
from tests.integration.test_berth_timeline import berth_event, t

Uows = Callable[[], UnitOfWork]


async def _sensor(client: TestClient[Any, Any], body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/devices/sensors/events", json=body)
    assert response.status == 200, await response.text()
    answer: dict[str, Any] = await response.json()
    return answer


async def _stays(uows: Uows, berth: str) -> list[tuple[Any, ...]]:
    async with uows() as uow:
        row = await uow.city.berth_by_code(berth)
        assert row is not None
        found = await uow.session.scalars(
            select(StayRow).where(StayRow.berth_id == row.id).order_by(StayRow.entered_at)
        )
        return [(s.plate, s.status, s.fee_fen) for s in found]


async def test_an_event_from_1970_is_held_and_the_berth_goes_on(
    client: TestClient[Any, Any], clock: FrozenClock, uow_factory: Uows
) -> None:
    clock.set(datetime.fromisoformat(t("12:00")))
    old = berth_event("x-1", "JB3-019", "occupied", "1970-01-01T00:00:05+00:00", "浙B19700")
    old["device"] = "NOT-REGISTERED-1"
    outcomes = [(await _sensor(client, old))["outcome"] for _ in range(2)]
    assert outcomes == ["review", "duplicate"]
    async with uow_factory() as uow:
        note = await uow.session.scalar(
            select(DeviceEventRow.note).where(DeviceEventRow.device_code == "NOT-REGISTERED-1")
        )
    assert note == "device time more than 24 h in the past"
    assert await _stays(uow_factory, "JB3-019") == []
    await _sensor(client, berth_event("x-2", "JB3-019", "occupied", t("09:00"), "浙B12345"))
    closed = await _sensor(client, berth_event("x-3", "JB3-019", "vacated", t("11:00")))
    assert closed["outcome"] == "applied" and closed["fee_fen"] > 0


async def test_a_stay_without_a_tariff_waits_for_a_human_and_the_berth_goes_on(
    client: TestClient[Any, Any], clock: FrozenClock, uow_factory: Uows
) -> None:
    clock.set(datetime.fromisoformat(t("12:00")))
    async with uow_factory() as uow:
        zone = await uow.city.zone_by_code("JB3")
        assert zone is not None
        await uow.session.execute(delete(TariffRow).where(TariffRow.code == zone.tariff_code))
        await uow.commit()
    await _sensor(client, berth_event("m-1", "JB3-018", "occupied", t("08:00"), "浙B12345"))
    for _ in range(2):  # and its resend: answered, never a 500
        held = await _sensor(client, berth_event("m-2", "JB3-018", "vacated", t("09:00")))
        assert held["outcome"] in ("applied", "duplicate")
    await _sensor(client, berth_event("m-3", "JB3-018", "occupied", t("09:30"), "浙B54321"))
    late = await _sensor(client, berth_event("m-0", "JB3-018", "vacated", t("08:30")))
    assert late["outcome"] == "applied"  # the slow path holds it the same way
    assert await _stays(uow_factory, "JB3-018") == [
        ("浙B12345", "review", None),
        ("浙B54321", "open", None),
    ]
    async with uow_factory() as uow:
        flags = list(await uow.session.scalars(select(StayFlagRow.flag)))
    assert flags == ["tariff_missing"]
