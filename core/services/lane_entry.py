"""Entry lanes: who may enter a lot, and the stay an admitted car opens."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.clock import Clock
from core.lane_events import LaneRead
from core.lanes import (
    Access,
    Decision,
    EntryFacts,
    LaneAction,
    ListAction,
    LotPolicy,
    best_access,
    decide_entry,
    vehicle_class,
)
from core.ledger import Account, AccountKind
from core.services.notices import notify_stay_opened
from core.store.activity import StayRow
from core.store.lane_values import LaneFacts, LotFacts
from core.store.lots import LanePassageRow, LotRightRow, LotStayRow
from core.store.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class Verdict:
    """A lane decision with the stay it opened, closed or is waiting on."""

    decision: Decision
    stay_id: int | None = None
    stay_ref: str | None = None
    fee_fen: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


def receivable_subject(stay: StayRow, details: LotStayRow | None) -> str:
    """Whose receivable a stay's fee goes to: the plate, or the driver of a car without one."""
    if stay.plate:
        return stay.plate
    driver = details.driver_id if details is not None else None
    return f"NOPLATE-{driver}"


async def lot_policy(uow: UnitOfWork, lot: LotFacts) -> LotPolicy:
    """A lot's entry rules: its own row, or the defaults of its kind."""
    row = await uow.lots.policy(lot.id)
    hospital = lot.kind == "hospital"
    if row is None:
        return LotPolicy(hospital=hospital, capacity=lot.capacity, collect_arrears_at_exit=hospital)
    return LotPolicy(
        hospital=hospital,
        capacity=max(lot.capacity - row.sold_spaces, 0),
        temporary_capacity=row.temporary_capacity,
        block_action=ListAction(row.block_action),
        arrears_threshold_fen=row.arrears_threshold_fen,
        arrears_action=ListAction(row.arrears_action),
        stale_after_hours=row.stale_after_hours,
        min_confidence=row.min_confidence,
        collect_arrears_at_exit=row.collect_arrears_at_exit,
    )


async def admit(
    uow: UnitOfWork,
    clock: Clock,
    lot: LotFacts,
    lane: LaneFacts,
    read: LaneRead,
    passage: LanePassageRow,
) -> Verdict:
    """Apply the entry rules to a read; an admitted car opens a stay."""
    if read.plate is None:
        return Verdict(Decision(LaneAction.REFUSE, "no_plate", "无牌车请扫码入场"))
    plate = read.plate.number
    at = passage.read_at
    receivable = Account(AccountKind.DRIVER_RECEIVABLE, plate).key
    counts = await uow.lane_reads.entry_counts(lot.id, plate, receivable, at)
    rights = await uow.lots.rights_for_plate(lot.id, plate, at) if counts.rights else []
    access = best_access([right.kind for right in rights])
    right = next((r for r in rights if r.kind == access.value), None)
    inside = await uow.lots.open_for_plate(lot.id, plate) if counts.inside else []
    block_reason, arrears = counts.block_reason, counts.balance_fen
    facts = EntryFacts(
        plate=plate,
        access=access,
        inside_already=bool(inside),
        open_stays=counts.open_stays,
        open_temporary=counts.open_temporary,
        blocked=block_reason is not None,
        arrears_fen=max(arrears, 0),
        confidence=read.confidence if read.confidence is not None else 100,
    )
    decision = decide_entry(await lot_policy(uow, lot), facts)
    details: dict[str, Any] = {"access": access.value, "right": right.ref if right else None}
    if block_reason is not None:
        details["block_reason"] = block_reason
    if arrears > 0:
        details["arrears_fen"] = arrears
    if not decision.opens and not read.offline:
        return Verdict(decision, details=details)
    stay = await open_lot_stay(uow, lot, lane, read, access, right, at, earlier=inside)
    # A verified binder sees a stranger's use of their plate at a gate as on a street; the
    # entry counts said whether there is one, so most entries ask nothing more.
    if counts.verified_binders:
        await notify_stay_opened(uow, clock, stay.ref)
    return Verdict(decision, stay.id, stay.ref, details=details)


async def open_lot_stay(
    uow: UnitOfWork,
    lot: LotFacts,
    lane: LaneFacts | None,
    read: LaneRead | None,
    access: Access,
    right: LotRightRow | None,
    at: datetime,
    *,
    plate: str | None = None,
    driver_id: int | None = None,
    earlier: Sequence[StayRow] | None = None,
) -> StayRow:
    """Open a stay in a lot; an earlier open stay of the plate there was a missed exit.

    `earlier` is the plate's open stays in the lot when the caller has just loaded them.
    """
    number = read.plate.number if read is not None and read.plate else plate
    if number is not None:
        if earlier is None:
            earlier = await uow.lots.open_for_plate(lot.id, number)
        for missed in earlier:
            missed.status = "review"  # a missed exit: a human prices it, never a guess
    colour = read.plate_colour if read is not None else None
    kind = read.vehicle_type if read is not None else None
    klass = "small"
    if read is not None and read.plate is not None:
        klass = vehicle_class(read.plate, colour, kind)
    key = uow.lane_reads.take_stay_key()
    stay = StayRow(
        ref=uuid.uuid4().hex[:20],
        plate=number,
        operator_id=lot.operator_id,
        lot_id=lot.id,
        vehicle_class=klass,
        status="open",
        entered_at=at,
        tariff_code=lot.tariff_code,
    )
    if key is not None:
        stay.id = key
    await uow.lots.insert(stay, key_now=key is None)  # with a reserved key: in the batch
    await uow.lots.insert(
        LotStayRow(
            stay_id=stay.id,
            access=access.value,
            right_id=right.id if right else None,
            entry_lane_id=lane.id if lane else None,
            entry_image_ref=read.image_ref if read else None,
            plate_colour=colour.value if colour else None,
            vehicle_type=kind,
            vehicle_colour=read.vehicle_colour if read else None,
            driver_id=driver_id,
            paid_fen=0,
            validation_fen=0,
        ),
        key_now=False,
    )
    return stay
