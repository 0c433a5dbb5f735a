"""Use cases of officers chasing on-street arrears: lists, a plate's file, notices, escalation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.arrears import (
    ArrearsAction,
    ArrearsFilter,
    ArrearsItem,
    ArrearsStage,
    ArrearsStep,
    check_step,
    stage_of,
)
from core.clock import Clock
from core.errors import NotFoundError
from core.plates import Plate
from core.services import audit
from core.staff import StaffIdentity
from core.store.unit_of_work import UnitOfWork


class ArrearsNotFoundError(NotFoundError):
    """No unpaid on-street stay with this reference in the officer's scope."""

    code = "arrears_not_found"
    message_zh = "未找到该欠费记录"


@dataclass(frozen=True, slots=True)
class ArrearsEntry:
    """An unpaid stay with the steps taken on it so far."""

    item: ArrearsItem
    actions: list[ArrearsAction]

    @property
    def stage(self) -> ArrearsStage:
        """Where the chase stands."""
        return stage_of(self.actions)


@dataclass(frozen=True, slots=True)
class ArrearsEvidence:
    """A stay's camera images: what an officer shows the driver or the traffic police."""

    taken_at: datetime
    ref: str


@dataclass(frozen=True, slots=True)
class PlateArrears:
    """Everything a plate owes on the street, each stay with its steps and evidence."""

    plate: str
    total_fen: int
    entries: list[tuple[ArrearsEntry, list[ArrearsEvidence]]]


async def list_arrears(
    uow: UnitOfWork, staff: StaffIdentity, wanted: ArrearsFilter
) -> list[ArrearsEntry]:
    """One page of unpaid stays in the officer's scope, with their steps."""
    items = await uow.arrears.page(wanted, staff.scope)
    actions = await uow.arrears.actions([item.stay_id for item in items])
    return [ArrearsEntry(item, actions[item.stay_id]) for item in items]


async def plate_arrears(uow: UnitOfWork, staff: StaffIdentity, plate: Plate) -> PlateArrears:
    """A plate's unpaid stays in scope, with steps and camera evidence."""
    items = await uow.arrears.of_plate(plate.number, staff.scope)
    actions = await uow.arrears.actions([item.stay_id for item in items])
    entries = []
    for item in items:
        images = await uow.vehicles.stay_images(item.stay_id)
        evidence = [ArrearsEvidence(at, ref) for at, ref in images]
        entries.append((ArrearsEntry(item, actions[item.stay_id]), evidence))
    return PlateArrears(plate.number, sum(item.due_fen for item in items), entries)


async def take_step(
    uow: UnitOfWork,
    clock: Clock,
    staff: StaffIdentity,
    stay_ref: str,
    step: ArrearsStep,
    note: str,
    evidence: str | None,
    escalate_after: timedelta,
) -> ArrearsEntry:
    """Record a notice served or an escalation on an unpaid stay, audited; commits."""
    item = await uow.arrears.item(stay_ref, staff.scope)
    if item is None:
        raise ArrearsNotFoundError(detail=stay_ref)
    await uow.arrears.lock_stay(item.stay_id)
    earlier = (await uow.arrears.actions([item.stay_id]))[item.stay_id]
    now = clock.now()
    check_step(step, earlier, now, escalate_after)
    action = ArrearsAction(step, staff.actor, now, note.strip(), evidence)
    uow.arrears.add_action(item.stay_id, action)
    details = {"plate": item.plate, "due_fen": item.due_fen, "evidence": evidence}
    await audit.record(uow, clock, staff, f"arrears.{step.value}", stay_ref, note, details)
    await uow.commit()
    return ArrearsEntry(item, [*earlier, action])
