"""Berth events in batches (the set-based common case) against one at a time (the full timeline).

The same random event streams go to two mirrored sets of berths of one zone: one set event by
event through `record_berth_event`, the other in random chunks through `record_berth_events`.
Every observable result must be the same: outcomes, stays, prices, timeline roles, ledger,
notices, berth states and device health.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from core.berth_events import BerthEvent
from core.berth_rules import BerthRules
from core.billing import ChineseDayCalendar
from core.clock import FrozenClock
from core.errors import DomainError
from core.services.berth_batch import Outcome, record_berth_events
from core.services.berth_events import record_berth_event
from core.store.activity import DeviceEventRow, LedgerEntryRow, LedgerPostingRow, StayRow
from core.store.city import BerthRow, DeviceRow
from core.store.devices import (
    BerthObservationRow,
    BerthStateRow,
    DeviceHealthRow,
    NotificationRow,
)
from core.store.people import DriverRow, VehicleBindingRow, VehicleRow
from core.store.unit_of_work import UnitOfWork
from device_bridge.formats import own_json
from tests.conftest import SHANGHAI

CALENDAR = ChineseDayCalendar()
RULES = BerthRules(flicker_seconds=60, max_clock_ahead_seconds=300, plate_match_seconds=120)
Uows = Callable[[], UnitOfWork]
BERTHS = 6
SETS = {"one": ("HS1-{:03d}", "浙B1{:04d}"), "batch": ("HS1-{:03d}", "浙B2{:04d}")}
OFFSET = {"one": 1, "batch": 11}  # one-by-one on HS1-001.., batches on HS1-011..


def _stream(seed: int) -> list[dict[str, Any]]:
    """A day of in-order events per berth, berths interleaved, with noise and resends."""
    rng = random.Random(seed)
    per_berth: list[list[dict[str, Any]]] = []
    for berth in range(BERTHS):
        clock = datetime(2026, 11, 24, 6, 0, tzinfo=SHANGHAI) + timedelta(
            minutes=rng.randint(0, 90)
        )
        events: list[dict[str, Any]] = []
        while clock.hour < 22:
            plate = rng.choice([None, 1, 2, 3, 3]) if rng.random() < 0.9 else None
            events.append({"berth": berth, "state": "occupied", "at": clock, "plate": plate})
            roll = rng.random()
            if roll < 0.1:  # a second occupied while taken: noise
                clock += timedelta(minutes=rng.randint(1, 20))
                events.append({"berth": berth, "state": "occupied", "at": clock, "plate": None})
            stay = (
                timedelta(seconds=rng.randint(10, 50))
                if roll > 0.9
                else timedelta(minutes=rng.randint(2, 300))
            )
            clock += stay
            events.append({"berth": berth, "state": "vacated", "at": clock, "plate": None})
            if rng.random() < 0.08:  # a vacated without an occupied: noise
                clock += timedelta(minutes=rng.randint(1, 10))
                events.append({"berth": berth, "state": "vacated", "at": clock, "plate": None})
            clock += timedelta(minutes=rng.randint(0, 120), seconds=rng.randint(1, 59))
        per_berth.append(events)
    merged: list[dict[str, Any]] = []
    while any(per_berth):
        queue = rng.choice([q for q in per_berth if q])
        merged.append(queue.pop(0))
    for n, event in enumerate(merged):
        event["id"] = f"e{n}"
    for _ in range(len(merged) // 15):  # resends of events already sent
        merged.insert(rng.randint(1, len(merged)), dict(rng.choice(merged[: len(merged) // 2])))
    merged.insert(rng.randint(0, len(merged)), {**merged[0], "id": "x", "berth": None})
    return merged


def _event(spec: dict[str, Any], which: str) -> BerthEvent:
    berth_pattern, plate_pattern = SETS[which]
    code = (
        "HS9-999" if spec["berth"] is None else berth_pattern.format(spec["berth"] + OFFSET[which])
    )
    body: dict[str, Any] = {
        "event_id": spec["id"],
        "device": f"MAG-{code}",
        "berth": code,
        "state": spec["state"],
        "device_time": spec["at"].isoformat(),
    }
    if spec["plate"] is not None:
        body["plate"] = plate_pattern.format(spec["plate"])
    return own_json.parse(body)


async def _bind_verified(uows: Uows, clock: FrozenClock, plates: list[str]) -> None:
    async with uows() as uow:
        for n, plate in enumerate(plates):
            driver = DriverRow(unionid=f"u-{n}", created_at=clock.now())
            vehicle = VehicleRow(plate=plate, plate_colour="BLUE")
            uow.session.add_all([driver, vehicle])
            await uow.session.flush()
            uow.session.add(
                VehicleBindingRow(
                    driver_id=driver.id,
                    vehicle_id=vehicle.id,
                    created_at=clock.now(),
                    verified_at=clock.now(),
                    verified_by="licence",
                )
            )
        await uow.commit()


def _said(outcome: Outcome, refs: dict[str, Any]) -> tuple[Any, ...]:
    if isinstance(outcome, DomainError):
        return ("refused", outcome.code)
    ref = refs.get(outcome.stay_ref) if outcome.stay_ref else None
    change = outcome.change
    state = None if change is None else (change.occupied, change.version)
    return (outcome.outcome.value, ref, outcome.fee_fen, outcome.note, state)


async def _picture(uows: Uows, which: str) -> dict[str, Any]:
    """Everything the events left, with berths, plates and references made set-neutral."""
    berth_pattern, plate_pattern = SETS[which]
    codes = {berth_pattern.format(n + OFFSET[which]): n for n in range(BERTHS)}
    plates = {plate_pattern.format(n): n for n in range(1, 4)}
    async with uows() as uow:
        berths = {
            row.id: codes[row.code]
            for row in await uow.session.scalars(select(BerthRow).where(BerthRow.code.in_(codes)))
        }
        stays = list(
            await uow.session.scalars(
                select(StayRow).where(StayRow.berth_id.in_(berths)).order_by(StayRow.id)
            )
        )
        key = {s.id: (berths[s.berth_id or 0], s.entered_at) for s in stays}
        refs = {s.ref: key[s.id] for s in stays}
        observations = await uow.session.scalars(
            select(BerthObservationRow).where(BerthObservationRow.berth_id.in_(berths))
        )
        states = await uow.session.scalars(
            select(BerthStateRow).where(BerthStateRow.berth_id.in_(berths))
        )
        devices = {f"MAG-{code}": n for code, n in codes.items()}
        health = await uow.session.execute(
            select(DeviceRow.code, DeviceHealthRow)
            .join(DeviceHealthRow, DeviceHealthRow.device_id == DeviceRow.id)
            .where(DeviceRow.code.in_(devices))
        )
        events = await uow.session.scalars(
            select(DeviceEventRow).where(DeviceEventRow.device_code.in_(devices))
        )
        postings = await uow.session.execute(
            select(LedgerEntryRow.kind, LedgerEntryRow.reference, LedgerPostingRow)
            .join(LedgerPostingRow, LedgerPostingRow.entry_id == LedgerEntryRow.id)
            .where(LedgerEntryRow.reference.in_(refs))
        )
        notices = await uow.session.scalars(
            select(NotificationRow).where(NotificationRow.reference.in_(refs))
        )
        ledger: Counter[tuple[Any, ...]] = Counter()
        for kind, reference, posting in postings:
            account = (
                posting.account.rsplit(":", 1)[0] if "浙" in posting.account else posting.account
            )
            ledger[(kind, refs[reference], account)] += posting.debit_fen - posting.credit_fen
        return {
            "refs": refs,
            "stays": sorted(
                (
                    key[s.id],
                    plates.get(s.plate or ""),
                    s.status,
                    s.exited_at,
                    s.fee_fen,
                    s.tariff_code,
                    s.tariff_version,
                    s.quote,
                )
                for s in stays
            ),
            "timeline": sorted(
                (berths[o.berth_id], o.device_time, o.kind, o.role, o.note, key.get(o.stay_id or 0))
                for o in observations
            ),
            "events": sorted((e.dedupe_key.rsplit(":", 1)[1], e.outcome, e.note) for e in events),
            "states": sorted((berths[s.berth_id], s.occupied, s.version) for s in states),
            "health": sorted(
                (devices[code], h.occupied_count, h.flicker_count, h.last_event_at)
                for code, h in health
            ),
            "ledger": ledger,
            "notices": sorted(
                (
                    n.kind,
                    refs[n.reference],
                    n.body.get("fee_fen"),
                    n.body.get("entered_at"),
                    n.body.get("exited_at"),
                )
                for n in notices
            ),
        }


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_batches_leave_what_one_by_one_leaves(
    uow_factory: Uows, clock: FrozenClock, seed: int
) -> None:
    await _bind_verified(uow_factory, clock, ["浙B10002", "浙B20002", "浙B10003", "浙B20003"])
    stream = _stream(seed)
    one_by_one: list[Outcome] = []
    for spec in stream:
        async with uow_factory() as uow:
            try:
                one_by_one.append(
                    await record_berth_event(uow, clock, CALENDAR, _event(spec, "one"), RULES)
                )
            except DomainError as exc:
                one_by_one.append(exc)
    rng = random.Random(seed)
    batched: list[Outcome] = []
    position = 0
    while position < len(stream):
        size = rng.choice([1, 2, 5, 17, 40])
        chunk = [_event(spec, "batch") for spec in stream[position : position + size]]
        async with uow_factory() as uow:
            batched.extend(await record_berth_events(uow, clock, CALENDAR, chunk, RULES))
            await uow.commit()
        position += size
    one, batch = await _picture(uow_factory, "one"), await _picture(uow_factory, "batch")
    assert [_said(o, one["refs"]) for o in one_by_one] == [_said(o, batch["refs"]) for o in batched]
    for part in ("stays", "timeline", "events", "states", "health", "ledger", "notices"):
        assert one[part] == batch[part], part
    # The streams are rich enough to matter: priced stays, reviews, noise and notices.
    statuses = Counter(stay[2] for stay in batch["stays"])
    assert statuses["closed"] > 5 and statuses["review"] > 0 and statuses["void"] > 0
    assert any(row[3] == "noise" for row in batch["timeline"])
    assert batch["notices"] and batch["ledger"]
