"""A berth's stays, plates and fees do not depend on the order its events arrive in."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from core.berth_events import BerthEvent
from core.billing import ChineseDayCalendar
from core.clock import FrozenClock
from core.services.berth_batch import record_berth_events
from core.store.activity import LedgerPostingRow, StayRow
from core.store.unit_of_work import UnitOfWork
from device_bridge.formats import own_json
from tests.conftest import SHANGHAI

CALENDAR = ChineseDayCalendar()
Uows = Callable[[], UnitOfWork]


def at(day: int, hhmm: str) -> str:
    hour, minute = hhmm.split(":")
    return datetime(2026, 11, day, int(hour), int(minute), tzinfo=SHANGHAI).isoformat()


def event(key: str, berth: str, state: str, time: str, plate: str | None = None) -> BerthEvent:
    body: dict[str, Any] = {
        "event_id": key,
        "device": f"MAG-{berth}",
        "berth": berth,
        "state": state,
        "device_time": time,
    }
    if plate:
        body["plate"] = plate
    return own_json.parse(body)


async def send(uows: Uows, clock: FrozenClock, item: BerthEvent) -> None:
    async with uows() as uow:
        [outcome] = await record_berth_events(uow, clock, CALENDAR, [item])
        assert not isinstance(outcome, Exception), outcome
        await uow.commit()


async def stays_of(uows: Uows, berth: str) -> list[tuple[Any, ...]]:
    async with uows() as uow:
        row = await uow.city.berth_by_code(berth)
        assert row is not None
        found = await uow.session.scalars(
            select(StayRow)
            .where(StayRow.berth_id == row.id, StayRow.status != "void")
            .order_by(StayRow.entered_at)
        )
        return [(s.plate, s.status, s.entered_at, s.exited_at, s.fee_fen) for s in found]


async def balance(uows: Uows, account_part: str) -> int:
    async with uows() as uow:
        total = await uow.session.scalar(
            select(func.sum(LedgerPostingRow.debit_fen - LedgerPostingRow.credit_fen)).where(
                LedgerPostingRow.account.contains(account_part)
            )
        )
        return int(total or 0)


async def test_every_order_of_two_cars_gives_each_its_own_stay(
    uow_factory: Uows, clock: FrozenClock
) -> None:
    """The issue's case: occupied A, vacated, occupied C the next morning, vacated; 24 orders."""
    clock.set(datetime.fromisoformat(at(27, "12:00")))
    berths = [f"JB3-{n:03d}" for n in range(1, 21)] + [f"HS2-{n:03d}" for n in range(1, 5)]
    expected: list[tuple[Any, ...]] | None = None
    orders = list(itertools.permutations(range(4)))
    for n, (order, berth) in enumerate(zip(orders, berths, strict=True)):
        zone_expected = None
        a, c = f"浙BA{n:04d}", f"浙BC{n:04d}"
        timeline = [
            event(f"{berth}-1", berth, "occupied", at(26, "14:41"), a),
            event(f"{berth}-2", berth, "vacated", at(26, "15:38")),
            event(f"{berth}-3", berth, "occupied", at(27, "08:11"), c),
            event(f"{berth}-4", berth, "vacated", at(27, "09:52")),
        ]
        for index in order:
            await send(uow_factory, clock, timeline[index])
        found = await stays_of(uow_factory, berth)
        assert [s[0] for s in found] == [a, c], (order, found)
        shape = [s[1:] for s in found]
        if berth.startswith("JB3"):
            expected = expected or shape
            zone_expected = expected
        else:
            zone_expected = shape if n == 20 else zone_expected
        if zone_expected is not None:
            assert shape == zone_expected, (order, found)
        assert await balance(uow_factory, a) == found[0][4]
        assert await balance(uow_factory, c) == found[1][4]
