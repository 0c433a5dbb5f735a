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
    ReminderPolicy,
    check_step,
    reminder_due,
    reminders_end,
    stage_of,
)
from core.clock import Clock
from core.errors import NotFoundError
from core.notices import ARREARS_REMINDER
from core.plates import Plate
from core.services import audit
from core.staff import StaffIdentity
from core.store.devices import NotificationRow
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
    # Locked first, then read: a payment committed meanwhile takes the stay off the list.
    await uow.stays.by_ref(stay_ref, for_update=True)
    item = await uow.arrears.item(stay_ref, staff.scope)
    if item is None:
        raise ArrearsNotFoundError(detail=stay_ref)
    earlier = (await uow.arrears.actions([item.stay_id]))[item.stay_id]
    now = clock.now()
    check_step(step, earlier, now, escalate_after)
    action = ArrearsAction(step, staff.actor, now, note.strip(), evidence)
    uow.arrears.add_action(item.stay_id, action)
    details = {"plate": item.plate, "due_fen": item.due_fen, "evidence": evidence}
    await audit.record(uow, clock, staff, f"arrears.{step.value}", stay_ref, note, details)
    await uow.commit()
    return ArrearsEntry(item, [*earlier, action])


async def queue_reminders(uow: UnitOfWork, clock: Clock, policy: ReminderPolicy) -> int:
    """Queue the reminder now due of each unpaid stay to its plate's verified drivers; commits.

    Each reminder has its number in its outbox reference, so a second run queues nothing twice.
    """
    now = clock.now()
    found = await uow.arrears.to_remind(reminders_end(now, policy), now - policy.after)
    queued = 0
    for start in range(0, len(found), _CHUNK):
        chunk = [
            (item, driver, f"{item.ref}#{reminder_due(item.exited_at, now, policy)}")
            for item, driver in found[start : start + _CHUNK]
        ]
        known = await uow.vehicles.queued_references(ARREARS_REMINDER, [r for _, _, r in chunk])
        for item, driver, reference in chunk:
            if (driver, reference) not in known:
                uow.onstreet.add_notification(_reminder(item, driver, reference, now))
                queued += 1
    await uow.commit()
    return queued


_CHUNK = 500


def _reminder(item: ArrearsItem, driver_id: int, reference: str, now: datetime) -> NotificationRow:
    body = {
        "stay_ref": item.ref,
        "plate": item.plate,
        "berth": item.berth,
        "exited_at": item.exited_at.isoformat(),
        "fee_fen": item.due_fen,
    }
    return NotificationRow(
        driver_id=driver_id, kind=ARREARS_REMINDER, reference=reference, body=body, created_at=now
    )
