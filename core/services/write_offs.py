"""Use cases of writing off arrears (坏账核销): request, a second person's approval or refusal.

The approver holds `write_offs_approve` and is never the requester (checked here and in the
conditional update, so it holds under races). Approval lowers the stay's fee by the amount
through the waiver service, booked to the operator's `written_off` account, so the stay leaves
the arrears list and the ledger shows the bad debt.
"""

from __future__ import annotations

from core.appeals import check_approver
from core.clock import Clock
from core.services import audit
from core.services.arrears import ArrearsNotFoundError
from core.services.waivers import waive_fee
from core.staff import StaffIdentity, covers
from core.store.unit_of_work import UnitOfWork
from core.store.write_offs import WriteOffRow, write_off_of
from core.write_offs import (
    WriteOff,
    WriteOffDecidedError,
    WriteOffNotFoundError,
    WriteOffPendingError,
    WriteOffStaleError,
    WriteOffStatus,
)


async def request_write_off(
    uow: UnitOfWork, clock: Clock, staff: StaffIdentity, stay_ref: str, reason: str
) -> WriteOff:
    """Ask for what an arrear in scope still owes to be written off; audited, commits."""
    await uow.stays.by_ref(stay_ref, for_update=True)
    item = await uow.arrears.item(stay_ref, staff.scope)
    if item is None:
        raise ArrearsNotFoundError(detail=stay_ref)
    if await uow.write_offs.pending_for(item.stay_id) is not None:
        raise WriteOffPendingError(detail=stay_ref)
    row = WriteOffRow(
        stay_id=item.stay_id,
        stay_ref=item.ref,
        plate=item.plate,
        operator_code=item.operator,
        amount_fen=item.due_fen,
        reason=reason.strip(),
        status=WriteOffStatus.PENDING.value,
        requested_by=staff.actor,
        requested_by_id=staff.id,
        requested_at=clock.now(),
    )
    await uow.write_offs.add(row)
    found = write_off_of(row)
    details = {"write_off": found.reference, "amount_fen": item.due_fen, "plate": item.plate}
    await audit.record(uow, clock, staff, "write_off.request", stay_ref, reason, details)
    await uow.commit()
    return found


async def approve(
    uow: UnitOfWork, clock: Clock, staff: StaffIdentity, write_off_id: int, note: str
) -> WriteOff:
    """A second person applies a pending write-off; refused if what is due has changed."""
    row = await _pending(uow, staff, write_off_id)
    await uow.stays.by_ref(row.stay_ref, for_update=True)
    item = await uow.arrears.item(row.stay_ref, staff.scope)
    if item is None or item.due_fen != row.amount_fen:
        due = None if item is None else item.due_fen
        raise WriteOffStaleError(detail=f"{row.stay_ref}: asked {row.amount_fen}, due {due}")
    await _decide(uow, clock, staff, row, WriteOffStatus.APPROVED, note)
    decided = write_off_of(row)
    details = {"write_off": decided.reference, "requested_by": row.requested_by}
    await audit.record(uow, clock, staff, "write_off.approve", row.stay_ref, note, details)
    await waive_fee(
        uow, clock, staff, row.stay_ref, row.amount_fen, row.reason, write_off=decided.reference
    )  # commits
    return decided


async def reject(
    uow: UnitOfWork, clock: Clock, staff: StaffIdentity, write_off_id: int, note: str
) -> WriteOff:
    """A second person refuses a pending write-off, saying why; the arrear stays chased."""
    row = await _pending(uow, staff, write_off_id)
    await _decide(uow, clock, staff, row, WriteOffStatus.REJECTED, note)
    decided = write_off_of(row)
    details = {"write_off": decided.reference, "requested_by": row.requested_by}
    await audit.record(uow, clock, staff, "write_off.reject", row.stay_ref, note, details)
    await uow.commit()
    return decided


async def _pending(uow: UnitOfWork, staff: StaffIdentity, write_off_id: int) -> WriteOffRow:
    row = await uow.write_offs.get(write_off_id)
    if row is None or not covers(staff.scope, operator_code=row.operator_code):
        raise WriteOffNotFoundError(detail=str(write_off_id))
    check_approver(row.requested_by_id, staff.id)
    if row.status != WriteOffStatus.PENDING.value:
        raise WriteOffDecidedError(detail=f"{write_off_id} is {row.status}")
    return row


async def _decide(
    uow: UnitOfWork,
    clock: Clock,
    staff: StaffIdentity,
    row: WriteOffRow,
    status: WriteOffStatus,
    note: str,
) -> None:
    now = clock.now()
    if not await uow.write_offs.decide(row.id, status, staff.id, staff.actor, now, note.strip()):
        raise WriteOffDecidedError(detail=str(row.id))
    row.status, row.decided_by, row.decided_at = status.value, staff.actor, now
    row.decided_by_id, row.decision_note = staff.id, note.strip()
