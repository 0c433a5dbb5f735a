"""Berth events placed by device time on SQLite and PostgreSQL: resends, late, out of order."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from core.berth_events import EventOutcome
from core.berth_rules import BerthRules
from core.billing import ChineseDayCalendar
from core.clock import FrozenClock
from core.services.berth_events import BerthEventResult, record_berth_event
from core.services.device_events import record_fault, record_heartbeat, record_plate_read
from core.store.activity import DeviceEventRow, LedgerPostingRow, StayRow
from core.store.devices import (
    BerthClosureRow,
    BerthObservationRow,
    DeviceHealthRow,
    NotificationRow,
    StayFlagRow,
    ViolationRow,
)
from core.store.people import DriverRow, VehicleBindingRow, VehicleRow
from core.store.unit_of_work import UnitOfWork
from device_bridge.formats import own_json
from tests.conftest import SHANGHAI

CALENDAR = ChineseDayCalendar()
RULES = BerthRules(flicker_seconds=60, max_clock_ahead_seconds=300, plate_match_seconds=120)
Uows = Callable[[], UnitOfWork]


def t(hhmm: str, seconds: int = 0) -> str:
    hour, minute = hhmm.split(":")
    return datetime(2026, 11, 25, int(hour), int(minute), seconds, tzinfo=SHANGHAI).isoformat()


def berth_event(
    event_id: str, berth: str, state: str, time: str, plate: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": event_id,
        "device": f"MAG-{berth}",
        "berth": berth,
        "state": state,
        "device_time": time,
    }
    if plate:
        body["plate"] = plate
    return body


async def send(uows: Uows, clock: FrozenClock, body: dict[str, Any]) -> BerthEventResult:
    async with uows() as uow:
        return await record_berth_event(uow, clock, CALENDAR, own_json.parse(body), RULES)


async def read_plate(uows: Uows, clock: FrozenClock, body: dict[str, Any]) -> Any:
    async with uows() as uow:
        return await record_plate_read(uow, clock, CALENDAR, own_json.parse_plate_read(body), RULES)


async def stays(uows: Uows, berth: str) -> list[tuple[Any, ...]]:
    async with uows() as uow:
        berth_row = await uow.city.berth_by_code(berth)
        assert berth_row is not None
        rows = await uow.session.scalars(
            select(StayRow)
            .where(StayRow.berth_id == berth_row.id, StayRow.status != "void")
            .order_by(StayRow.entered_at)
        )
        return [(s.plate, s.status, s.entered_at, s.exited_at, s.fee_fen) for s in rows]


async def count(uows: Uows, column: Any, *where: Any) -> int:
    async with uows() as uow:
        return int(await uow.session.scalar(select(func.count(column)).where(*where)) or 0)


async def unplaced(uows: Uows) -> int:
    return await count(
        uows, BerthObservationRow.id, BerthObservationRow.role.in_(("noise", "waiting"))
    )


async def test_resent_event_changes_nothing(uow_factory: Uows, clock: FrozenClock) -> None:
    clock.set(datetime.fromisoformat(t("12:00")))
    occupied = berth_event("1", "HS1-001", "occupied", t("09:00"), "浙B12345")
    vacated = berth_event("2", "HS1-001", "vacated", t("11:00"))
    assert (await send(uow_factory, clock, occupied)).outcome is EventOutcome.APPLIED
    closed = await send(uow_factory, clock, vacated)
    assert (closed.outcome, closed.fee_fen) == (EventOutcome.APPLIED, 800)
    for body in (occupied, vacated, vacated):
        assert (await send(uow_factory, clock, body)).outcome is EventOutcome.DUPLICATE
    assert [s[:2] for s in await stays(uow_factory, "HS1-001")] == [("浙B12345", "closed")]
    assert await count(uow_factory, LedgerPostingRow.id) == 2
    assert await count(uow_factory, DeviceEventRow.id) == 2


async def test_vacated_before_its_occupied_is_held_then_paired(
    uow_factory: Uows, clock: FrozenClock
) -> None:
    clock.set(datetime.fromisoformat(t("12:00")))
    early = await send(uow_factory, clock, berth_event("2", "HS1-002", "vacated", t("11:00")))
    assert (early.outcome, early.note) == (EventOutcome.REVIEW, "vacated without an occupied")
    assert await unplaced(uow_factory) == 1
    late = berth_event("1", "HS1-002", "occupied", t("09:00"), "浙B12345")
    assert (await send(uow_factory, clock, late)).outcome is EventOutcome.APPLIED
    [stay] = await stays(uow_factory, "HS1-002")
    assert stay[:2] + stay[4:] == ("浙B12345", "closed", 800)
    assert await unplaced(uow_factory) == 0
    assert await count(uow_factory, DeviceEventRow.id, DeviceEventRow.outcome == "applied") == 2


async def test_two_occupieds_keep_the_first_and_hold_the_second(
    uow_factory: Uows, clock: FrozenClock
) -> None:
    clock.set(datetime.fromisoformat(t("12:00")))
    await send(uow_factory, clock, berth_event("1", "HS1-003", "occupied", t("09:00"), "浙B12345"))
    second = await send(uow_factory, clock, berth_event("2", "HS1-003", "occupied", t("09:30")))
    assert second.outcome is EventOutcome.REVIEW and "occupied while the berth was taken" in (
        second.note or ""
    )
    await send(uow_factory, clock, berth_event("3", "HS1-003", "vacated", t("10:00")))
    [stay] = await stays(uow_factory, "HS1-003")
    assert stay[2:4] == (datetime.fromisoformat(t("09:00")), datetime.fromisoformat(t("10:00")))
    # The noise stays held for review rather than starting a phantom stay.
    assert await unplaced(uow_factory) == 1


async def test_next_cars_occupied_before_the_previous_vacated(
    uow_factory: Uows, clock: FrozenClock
) -> None:
    clock.set(datetime.fromisoformat(t("12:00")))
    await send(uow_factory, clock, berth_event("1", "HS1-004", "occupied", t("09:00"), "浙B12345"))
    await send(uow_factory, clock, berth_event("3", "HS1-004", "occupied", t("11:00"), "浙B54321"))
    await send(uow_factory, clock, berth_event("2", "HS1-004", "vacated", t("10:00")))
    assert [(s[0], s[1]) for s in await stays(uow_factory, "HS1-004")] == [
        ("浙B12345", "closed"),
        ("浙B54321", "open"),
    ]
    assert await unplaced(uow_factory) == 0


async def test_a_flicker_is_not_a_stay(uow_factory: Uows, clock: FrozenClock) -> None:
    await send(uow_factory, clock, berth_event("1", "HS1-005", "occupied", t("09:00", 0)))
    result = await send(uow_factory, clock, berth_event("2", "HS1-005", "vacated", t("09:00", 40)))
    assert result.outcome is EventOutcome.APPLIED and "flicker" in (result.note or "")
    assert await stays(uow_factory, "HS1-005") == []
    assert await count(uow_factory, StayRow.id, StayRow.status == "void") == 1  # kept, not shown
    async with uow_factory() as uow:
        device = await uow.onstreet.device("MAG-HS1-005")
        assert device is not None
        health = await uow.session.get_one(DeviceHealthRow, device.id)
        assert (health.occupied_count, health.flicker_count) == (1, 1)


async def test_clock_skew_within_the_bound_is_tolerated_beyond_it_kept_for_review(
    uow_factory: Uows, clock: FrozenClock
) -> None:
    ahead = await send(uow_factory, clock, berth_event("1", "HS1-006", "occupied", t("09:04")))
    assert ahead.outcome is EventOutcome.APPLIED
    far = await send(uow_factory, clock, berth_event("2", "HS1-007", "occupied", t("09:06")))
    assert far.outcome is EventOutcome.REVIEW
    assert await stays(uow_factory, "HS1-007") == []
    assert await count(uow_factory, DeviceEventRow.id, DeviceEventRow.outcome == "review") == 1


async def test_a_late_plate_read_prices_a_stay_that_had_none(
    uow_factory: Uows, clock: FrozenClock
) -> None:
    clock.set(datetime.fromisoformat(t("12:00")))
    await send(uow_factory, clock, berth_event("1", "HS1-008", "occupied", t("09:00")))
    closed = await send(uow_factory, clock, berth_event("2", "HS1-008", "vacated", t("11:00")))
    assert closed.note == "stay has no plate"
    assert (await stays(uow_factory, "HS1-008"))[0][:2] == (None, "review")
    read = {"event_id": "r1", "device": "VID-HS1-A", "berth": "HS1-008", "plate": "浙B12345"}
    result = await read_plate(uow_factory, clock, read | {"device_time": t("09:01")})
    assert result.outcome is EventOutcome.APPLIED
    assert (await stays(uow_factory, "HS1-008"))[0][::4] == ("浙B12345", 800)
    assert await count(uow_factory, LedgerPostingRow.id) == 2


async def test_a_plate_read_before_the_sensor_waits_for_the_stay(
    uow_factory: Uows, clock: FrozenClock
) -> None:
    read = {"event_id": "r1", "device": "VID-HS1-A", "berth": "HS1-009", "plate": "浙B12345"}
    held = await read_plate(uow_factory, clock, read | {"device_time": t("08:59")})
    assert held.outcome is EventOutcome.REVIEW
    await send(uow_factory, clock, berth_event("1", "HS1-009", "occupied", t("09:00")))
    assert (await stays(uow_factory, "HS1-009"))[0][:2] == ("浙B12345", "open")
    assert await unplaced(uow_factory) == 0


async def test_any_order_with_resends_gives_the_same_stays(
    uow_factory: Uows, clock: FrozenClock
) -> None:
    clock.set(datetime.fromisoformat(t("23:00")))
    timeline = [
        ("occupied", "09:00", "A"),
        ("vacated", "10:15", None),
        ("occupied", "10:40", "B"),
        ("vacated", "10:40", None),  # 20 s later: a flicker, not a stay
        ("occupied", "11:00", "C"),
        ("vacated", "13:30", None),
        ("occupied", "14:00", "D"),
    ]
    rng = random.Random(20261125)
    results = []
    for n in range(1, 6):
        berth = f"HS2-{n:03d}"
        events = [
            berth_event(
                f"{berth}-{i}",
                berth,
                state,
                t(time, 20 if i == 3 else 0),
                f"浙B{n}{mark}88{i}" if mark else None,
            )
            for i, (state, time, mark) in enumerate(timeline)
        ]
        order = events + rng.sample(events, 3)  # every event once, three of them resent
        if n > 1:
            rng.shuffle(order)
        for body in order:
            await send(uow_factory, clock, body)
        found = await stays(uow_factory, berth)
        results.append([(s[1], s[2], s[3], s[4], s[0][-1] if s[0] else None) for s in found])
    assert results[0] == [
        ("closed", *results[0][0][1:3], results[0][0][3], "0"),
        ("closed", *results[0][1][1:3], results[0][1][3], "4"),
        ("open", results[0][2][1], None, None, "6"),
    ]
    for other in results[1:]:
        assert other == results[0]
    assert await unplaced(uow_factory) == 0


async def test_bound_driver_is_told_the_fee(uow_factory: Uows, clock: FrozenClock) -> None:
    clock.set(datetime.fromisoformat(t("12:00")))
    async with uow_factory() as uow:
        driver = DriverRow(unionid="u-1", created_at=clock.now())
        stranger = DriverRow(unionid="u-2", created_at=clock.now())
        vehicle = VehicleRow(plate="浙B12345", plate_colour="BLUE")
        uow.session.add_all([driver, stranger, vehicle])
        await uow.session.flush()
        uow.session.add_all(
            [
                VehicleBindingRow(
                    driver_id=driver.id,
                    vehicle_id=vehicle.id,
                    created_at=clock.now(),
                    verified_at=clock.now(),
                    verified_by="licence",
                ),
                # Anyone can type a plate: an unverified binding is not told where the car was.
                VehicleBindingRow(
                    driver_id=stranger.id, vehicle_id=vehicle.id, created_at=clock.now()
                ),
            ]
        )
        await uow.commit()
    await send(uow_factory, clock, berth_event("1", "HS1-010", "occupied", t("09:00"), "浙B12345"))
    closed = await send(uow_factory, clock, berth_event("2", "HS1-010", "vacated", t("11:00")))
    async with uow_factory() as uow:
        opened, notice = await uow.session.scalars(
            select(NotificationRow).order_by(NotificationRow.id)
        )
        assert (opened.driver_id, opened.kind) == (driver.id, "stay_opened")
        assert (notice.driver_id, notice.kind, notice.reference) == (
            driver.id,
            "stay_fee",
            closed.stay_ref,
        )
        assert notice.body["fee_fen"] == 800 and notice.sent_at is None


async def test_closed_berths_flag_stays_and_video_captures_violations(
    uow_factory: Uows, clock: FrozenClock
) -> None:
    async with uow_factory() as uow:
        berth = await uow.city.berth_by_code("JB3-001")
        assert berth is not None
        uow.session.add(
            BerthClosureRow(
                berth_id=berth.id,
                starts_at=clock.now() - timedelta(hours=1),
                ends_at=None,
                reason="道路施工",
                created_by="demo-admin",
                created_at=clock.now(),
            )
        )
        await uow.commit()
    await send(uow_factory, clock, berth_event("1", "JB3-001", "occupied", t("08:58")))
    assert await count(uow_factory, StayFlagRow.id, StayFlagRow.flag == "berth_closed") == 1
    read = {"event_id": "r1", "device": "VID-JB3-A", "berth": "JB3-001", "plate": "浙B12345"}
    in_closed = await read_plate(uow_factory, clock, read | {"device_time": t("08:59")})
    outside = {"event_id": "r2", "device": "VID-JB3-A", "location": "人民路口", "plate": "浙B8K123"}
    out = await read_plate(uow_factory, clock, outside | {"device_time": t("08:59")})
    assert in_closed.violation_ref and out.violation_ref
    async with uow_factory() as uow:
        rows = list(await uow.session.scalars(select(ViolationRow).order_by(ViolationRow.id)))
        assert [(v.kind, v.plate, v.location) for v in rows] == [
            ("closed_berth", "浙B12345", "JB3-001"),
            ("outside_berth", "浙B8K123", "人民路口"),
        ]
    # The plate also names the stay in the closed berth, which stays flagged.
    assert (await stays(uow_factory, "JB3-001"))[0][0] == "浙B12345"


async def test_heartbeats_and_faults_newest_by_device_time_wins(
    uow_factory: Uows, clock: FrozenClock
) -> None:
    beats = [("b2", "08:50", 70), ("b1", "08:40", 90), ("b2", "08:50", 70)]
    outcomes = []
    for event_id, time, battery in beats:
        body = {"event_id": event_id, "device": "MAG-HS1-011", "battery_pct": battery}
        async with uow_factory() as uow:
            beat = own_json.parse_heartbeat(body | {"device_time": t(time)})
            outcomes.append(await record_heartbeat(uow, clock, beat, RULES))
    assert outcomes == [EventOutcome.APPLIED, EventOutcome.APPLIED, EventOutcome.DUPLICATE]
    for event_id, time, cleared in (("f1", "08:00", False), ("f2", "08:30", True)):
        body = {"event_id": event_id, "device": "MAG-HS1-011", "code": "MAG_DRIFT"}
        async with uow_factory() as uow:
            fault = own_json.parse_fault(body | {"device_time": t(time), "cleared": cleared})
            await record_fault(uow, clock, fault)
    async with uow_factory() as uow:
        device = await uow.onstreet.device("MAG-HS1-011")
        assert device is not None
        health = await uow.session.get_one(DeviceHealthRow, device.id)
        assert health.battery_pct == 70 and health.fault_code is None
        assert health.last_heartbeat_at == datetime.fromisoformat(t("08:50"))


async def test_a_late_vacated_reprices_a_closed_stay_and_reverses_its_charge(
    uow_factory: Uows, clock: FrozenClock
) -> None:
    clock.set(datetime.fromisoformat(t("12:00")))
    await send(uow_factory, clock, berth_event("1", "HS1-012", "occupied", t("09:00"), "浙B12345"))
    first = await send(uow_factory, clock, berth_event("3", "HS1-012", "vacated", t("11:00")))
    assert first.fee_fen == 800
    # The real departure at 10:00 arrives late, then the next car's arrival at 10:30.
    await send(uow_factory, clock, berth_event("2", "HS1-012", "vacated", t("10:00")))
    await send(uow_factory, clock, berth_event("4", "HS1-012", "occupied", t("10:30")))
    found = await stays(uow_factory, "HS1-012")
    assert [(s[0], s[1], s[4]) for s in found] == [
        ("浙B12345", "closed", 500),
        (None, "review", None),
    ]
    assert found[0][3] == datetime.fromisoformat(t("10:00"))
    async with uow_factory() as uow:
        assert await uow.ledger.balance_fen("driver_receivable:浙B12345") == 500
        entries = await uow.ledger.entries_for(first.stay_ref or "")
        assert [e.kind for e, _ in entries] == [
            "stay_charged",
            "stay_charge_reversed",
            "stay_charged",
        ]
    assert await unplaced(uow_factory) == 0
