"""Use cases of WeChat Pay complaints: take one in (notify or sync), answer it, complete it."""

from __future__ import annotations

from core.appeals import CaseKind, CaseNotFoundError, CaseStatus
from core.clock import Clock
from core.complaints import (
    ComplaintDesk,
    ComplaintDetail,
    ComplaintEvent,
    NotAComplaintError,
    answer_deadline,
    category_of,
)
from core.errors import PermissionDeniedError
from core.services import audit
from core.services.retrying import Uows, retrying
from core.staff import StaffIdentity, covers
from core.store.appeals import AppealRow
from core.store.unit_of_work import UnitOfWork

COMPLAINT_ACTOR = "system:wechatpay_complaints"


async def receive(uows: Uows, clock: Clock, desk: ComplaintDesk, complaint_id: str) -> AppealRow:
    """Fetch a complaint WeChat Pay announced and put it in the queue (once; later, its state)."""
    return await receive_detail(uows, clock, await desk.detail(complaint_id))


async def sync(
    uows: Uows, clock: Clock, desk: ComplaintDesk, staff: StaffIdentity, day: str, sub_mchid: str
) -> list[AppealRow]:
    """Take in a sub-merchant's complaints of a day (a missed notification is caught here)."""
    found = [await receive_detail(uows, clock, d) for d in await desk.listed(day, sub_mchid)]
    async with uows() as uow:
        details = {"sub_mchid": sub_mchid, "complaints": len(found)}
        await audit.record(uow, clock, staff, "complaint.sync", f"day:{day}", "同步投诉单", details)
        await uow.commit()
    return found


async def receive_detail(uows: Uows, clock: Clock, detail: ComplaintDetail) -> AppealRow:
    """Put a complaint already fetched into the queue, or update its state."""
    return await retrying(lambda: _upsert(uows, clock, detail))


async def _upsert(uows: Uows, clock: Clock, detail: ComplaintDetail) -> AppealRow:
    async with uows() as uow:
        row = await uow.appeals.by_complaint(detail.complaint_id, for_update=True)
        if row is not None:
            row.complaint_state = detail.state
            await uow.commit()
            return row
        payment = await uow.payments.get(detail.out_trade_no) if detail.out_trade_no else None
        row = AppealRow(
            kind=CaseKind.WECHATPAY_COMPLAINT.value,
            category=category_of(detail.problem_type).value,
            status=CaseStatus.OPEN.value,
            stay_ref=payment.stay_ref if payment else None,
            driver_id=None,
            plate=payment.plate if payment else None,
            reason=detail.detail or "微信支付投诉",
            photos=[],
            created_at=clock.now(),
            due_at=answer_deadline(detail.complained_at),
            complaint_id=detail.complaint_id,
            sub_mchid=detail.sub_mchid,
            out_trade_no=detail.out_trade_no,
            complaint_state=detail.state,
            complaint={"problem_type": detail.problem_type, "amount_fen": detail.amount_fen},
        )
        await uow.appeals.add(row)
        details = {"appeal_id": row.id, "out_trade_no": detail.out_trade_no}
        await audit.record(
            uow,
            clock,
            COMPLAINT_ACTOR,
            "complaint.receive",
            detail.complaint_id,
            "微信支付投诉",
            details,
        )
        await uow.commit()
        return row


async def history(
    uow: UnitOfWork, desk: ComplaintDesk, staff: StaffIdentity, appeal_id: int
) -> list[ComplaintEvent]:
    """WeChat Pay's negotiation history of the case's complaint."""
    case = await _complaint(uow, staff, appeal_id)
    return await desk.history(str(case.complaint_id))


async def answer(
    uows: Uows,
    clock: Clock,
    desk: ComplaintDesk,
    staff: StaffIdentity,
    appeal_id: int,
    text: str,
    *,
    complete: bool,
) -> AppealRow:
    """Send the agent's answer to the payer through WeChat Pay and, if asked, complete it."""
    async with uows() as uow:
        case = await _complaint(uow, staff, appeal_id)
    complaint_id = str(case.complaint_id)
    await desk.respond(complaint_id, text.strip())
    if complete:
        await desk.complete(complaint_id)
    state = (await desk.detail(complaint_id)).state
    async with uows() as uow:
        case = await _complaint(uow, staff, appeal_id, for_update=True)
        case.complaint_state = state
        if complete and case.status == CaseStatus.OPEN.value:
            case.status = CaseStatus.RESOLVED.value
            case.decided_by, case.decided_at = staff.actor, clock.now()
            case.outcome_reason = case.outcome_reason or text.strip()
        action = "complaint.complete" if complete else "complaint.respond"
        details = {"complaint_id": complaint_id, "state": state}
        await audit.record(uow, clock, staff, action, f"appeal:{case.id}", text, details)
        await uow.commit()
        return case


async def _complaint(
    uow: UnitOfWork, staff: StaffIdentity, appeal_id: int, *, for_update: bool = False
) -> AppealRow:
    case = await uow.appeals.get(appeal_id, for_update=for_update)
    if case is None:
        raise CaseNotFoundError(detail=str(appeal_id))
    if case.kind != CaseKind.WECHATPAY_COMPLAINT.value or case.complaint_id is None:
        raise NotAComplaintError(detail=str(appeal_id))
    payment = await uow.payments.get(case.out_trade_no) if case.out_trade_no else None
    if payment is not None and not covers(staff.scope, operator_code=payment.operator_code):
        raise PermissionDeniedError(detail=f"{staff.actor} does not cover {case.out_trade_no}")
    return case
