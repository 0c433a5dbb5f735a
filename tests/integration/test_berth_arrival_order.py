"""A berth's stays, plates and fees do not depend on the order its events arrive in."""

from __future__ import annotations

import asyncio
import itertools
import random
import shutil
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from core.berth_events import BerthEvent
from core.billing import ChineseDayCalendar
from core.clock import FrozenClock
from core.services.berth_batch import record_berth_events
from core.store.activity import LedgerPostingRow, StayRow
from core.store.database import open_database
from core.store.unit_of_work import UnitOfWork
from device_bridge.formats import own_json
from tests.conftest import SHANGHAI
from tests.integration.test_berth_timeline import berth_event

CALENDAR = ChineseDayCalendar()
Uows = Callable[[], UnitOfWork]


def at(day: int, hhmm: str) -> str:
    hour, minute = hhmm.split(":")
    return datetime(2026, 11, day, int(hour), int(minute), tzinfo=SHANGHAI).isoformat()


def event(key: str, berth: str, state: str, time: str, plate: str | None = None) -> BerthEvent:
    return own_json.parse(berth_event(key, berth, state, time, plate))


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
    # JB3 has 20 berths: the last four orders run on HS2 berths (another tariff).
    berths = [f"JB3-{n:03d}" for n in range(1, 21)] + [f"HS2-{n:03d}" for n in range(1, 5)]
    expected: dict[str, list[tuple[Any, ...]]] = {}
    orders = list(itertools.permutations(range(4)))
    for n, (order, berth) in enumerate(zip(orders, berths, strict=True)):
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
        # The first order of each zone is the ordered stream (0, 1, 2, 3) or its zone's first.
        shape = expected.setdefault(berth[:3], [s[1:] for s in found])
        assert [s[1:] for s in found] == shape, (order, found)
        assert await balance(uow_factory, a) == found[0][4]
        assert await balance(uow_factory, c) == found[1][4]


CARS = st.lists(
    st.tuples(
        st.integers(min_value=2, max_value=240),  # minutes the berth stays empty before
        st.integers(min_value=0, max_value=300),  # minutes parked (under 1: a flicker)
        st.sampled_from(["浙B10001", "浙B20002", None]),  # the same car may come back
        st.sampled_from(["HS1-020", "HS1-019"]),  # a plate's day spans berths
    ),
    min_size=1,
    max_size=5,
)


Car = tuple[int, int, str | None, str]


def _timeline(cars: list[Car], noise: int) -> list[BerthEvent]:
    """Two berths' day: cars one after another, some events sent twice."""
    moment = datetime(2026, 11, 25, 7, 0, tzinfo=SHANGHAI)
    events: list[BerthEvent] = []
    for n, (gap, parked, plate, berth) in enumerate(cars):
        moment += timedelta(minutes=gap)
        events.append(event(f"p-{n}-in", berth, "occupied", moment.isoformat(), plate))
        moment += timedelta(minutes=parked, seconds=20)
        events.append(event(f"p-{n}-out", berth, "vacated", moment.isoformat()))
    return events + events[:noise]


async def _day(template: Path, folder: Path, events: list[BerthEvent]) -> list[tuple[Any, ...]]:
    path = folder / f"{uuid.uuid4().hex}.db"
    shutil.copyfile(template, path)
    database = open_database(f"sqlite+aiosqlite:///{path}")
    clock = FrozenClock(datetime(2026, 11, 26, 6, 0, tzinfo=SHANGHAI))
    try:
        uows = lambda: UnitOfWork(database.sessions)  # noqa: E731
        for item in events:
            await send(uows, clock, item)
        found = await stays_of(uows, "HS1-019") + await stays_of(uows, "HS1-020")
        money = [await balance(uows, plate) for plate in ("浙B10001", "浙B20002")]
        return [*found, tuple(money)]
    finally:
        await database.dispose()
        path.unlink()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(CARS, st.integers(min_value=0, max_value=3), st.randoms(use_true_random=False))
def test_any_arrival_order_gives_the_ordered_streams_stays_plates_and_fees(
    sqlite_template: Path,
    tmp_path: Path,
    cars: list[Car],
    noise: int,
    rng: random.Random,
) -> None:
    """Property over random berth days and arrival orders, through the real service."""
    events = _timeline(cars, noise)
    shuffled = list(events)
    rng.shuffle(shuffled)
    ordered = asyncio.run(_day(sqlite_template, tmp_path, events))
    arrived = asyncio.run(_day(sqlite_template, tmp_path, shuffled))
    assert arrived == ordered
