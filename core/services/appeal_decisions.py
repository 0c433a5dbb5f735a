"""Use cases of deciding appeals: reject, waive or refund within a role's limit, or ask finance."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core import payments as payment_rules
from core.appeals import (
    Action,
    ApprovalDecidedError,
    ApprovalLimits,
    ApprovalNotFoundError,
    ApprovalStatus,
    CaseClosedError,
    CaseNotFoundError,
    CaseStatus,
    check_approver,
    check_decision,
)
from core.clock import Clock
from core.errors import ConflictError, DomainError
from core.money import format_yuan
from core.notices import APPEAL_OUTCOME
from core.payment_gateway import PaymentGateway
from core.payments import Refund
from core.services import audit
from core.services.refunds import request_refund
from core.services.retrying import Uows
from core.services.waivers import Waiver, operator_in_scope, waive_fee
from core.staff import StaffIdentity
from core.store.appeals import AppealRow, ApprovalRow
from core.store.devices import NotificationRow
from core.store.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

OUTCOME_ZH = {
    Action.REJECT: "申诉未通过",
    Action.WAIVE: "申诉通过，费用已减免",
    Action.REFUND: "申诉通过，已发起退款",
}


class NothingToRefundError(ConflictError):
    """No settled payment of the case has this much left to refund."""

    code = "nothing_to_refund"
    message_zh = "没有可退款的支付，或退款金额超过可退金额"


@dataclass(frozen=True, slots=True)
class RefundPorts:
    """What a refund needs beyond the database."""

    gateway: PaymentGateway
    notify_url: str


@dataclass(frozen=True, slots=True)
class Decision:
    """What deciding did: applied now, or waiting for an approver."""

    appeal_id: int
    status: CaseStatus
    action: Action
    amount_fen: int
    approval_id: int | None = None
    waiver: Waiver | None = None
    refund: Refund | None = None


async def decide(
    uows: Uows,
    clock: Clock,
    ports: RefundPorts | None,
    limits: ApprovalLimits,
    staff: StaffIdentity,
    appeal_id: int,
    action: Action,
    amount_fen: int | None,
    reason: str,
) -> Decision:
    """Reject, or waive/refund now within the role's limit; above it, queue for finance."""
    amount = check_decision(action, amount_fen)
    async with uows() as uow:
        case = await _open_case(uow, staff, appeal_id)
        if action is Action.REJECT:
            _close(case, CaseStatus.REJECTED, action, 0, reason, staff.actor, clock)
            await _tell_driver(uow, clock, case)
            await audit.record(uow, clock, staff, "appeal.reject", _target(case), reason)
            await uow.commit()
            return Decision(case.id, CaseStatus.REJECTED, action, 0)
        target = await _money_target(uow, case, action, amount)
        if limits.needs_approval(staff.role.value, action, amount):
            return await _ask_approval(uow, clock, staff, case, action, target, amount, reason)
        if action is Action.WAIVE:
            waiver = await _waive(uow, clock, staff, case, amount, reason, staff.actor)
            return Decision(case.id, CaseStatus.RESOLVED, action, amount, waiver=waiver)
        _close(case, CaseStatus.RESOLVED, action, amount, reason, staff.actor, clock)
        details = {"amount_fen": amount, "out_trade_no": target}
        await audit.record(uow, clock, staff, "appeal.refund", _target(case), reason, details)
        await uow.commit()
    refund = await _refund(uows, clock, ports, staff, appeal_id, target, amount, reason, None)
    return Decision(appeal_id, CaseStatus.RESOLVED, action, amount, refund=refund)


async def approve(
    uows: Uows,
    clock: Clock,
    ports: RefundPorts | None,
    staff: StaffIdentity,
    approval_id: int,
    note: str,
) -> Decision:
    """A second person applies a waiting waiver or refund; of two at once, exactly one wins."""
    async with uows() as uow:
        request = await _approval(uow, staff, approval_id)
        won = await uow.appeals.decide_approval(
            approval_id, ApprovalStatus.APPROVED, staff.id, staff.actor, clock.now(), note.strip()
        )
        if not won:
            raise ApprovalDecidedError(detail=str(approval_id))
        action, amount, target = Action(request.action), request.amount_fen, request.target
        case = await _case(uow, request.appeal_id)
        details = {"approval_id": approval_id, "requested_by": request.requested_by}
        await audit.record(uow, clock, staff, "approval.approve", _target(case), note, details)
        if action is Action.WAIVE:
            try:
                waiver = await _waive(
                    uow, clock, staff, case, amount, request.reason, request.requested_by
                )
            except DomainError as exc:
                await uow.rollback()  # frees the approval's row lock for the record of failure
                await _failed(uows, clock, staff, request, exc)
                raise
            return Decision(case.id, CaseStatus.RESOLVED, action, amount, approval_id, waiver)
        _close(
            case, CaseStatus.RESOLVED, action, amount, request.reason, request.requested_by, clock
        )
        await uow.commit()
    refund = await _refund(
        uows, clock, ports, staff, case.id, target, amount, request.reason, request
    )
    return Decision(case.id, CaseStatus.RESOLVED, action, amount, approval_id, refund=refund)


async def reject_approval(
    uows: Uows, clock: Clock, staff: StaffIdentity, approval_id: int, note: str
) -> Decision:
    """Finance refuses a waiting action; the case goes back to support, open."""
    async with uows() as uow:
        request = await _approval(uow, staff, approval_id)
        won = await uow.appeals.decide_approval(
            approval_id, ApprovalStatus.REJECTED, staff.id, staff.actor, clock.now(), note.strip()
        )
        if not won:
            raise ApprovalDecidedError(detail=str(approval_id))
        case = await _case(uow, request.appeal_id, for_update=True)
        case.status = CaseStatus.OPEN.value
        details = {"approval_id": approval_id, "requested_by": request.requested_by}
        await audit.record(uow, clock, staff, "approval.reject", _target(case), note, details)
        await uow.commit()
        return Decision(case.id, CaseStatus.OPEN, Action(request.action), request.amount_fen)


async def _open_case(uow: UnitOfWork, staff: StaffIdentity, appeal_id: int) -> AppealRow:
    case = await _case(uow, appeal_id, for_update=True)
    if case.status != CaseStatus.OPEN.value:
        raise CaseClosedError(detail=f"{appeal_id} is {case.status}")
    if case.stay_ref is not None:
        stay = await uow.stays.by_ref(case.stay_ref)
        if stay is not None:
            await operator_in_scope(uow, staff, stay)
    return case


async def _case(uow: UnitOfWork, appeal_id: int, *, for_update: bool = False) -> AppealRow:
    case = await uow.appeals.get(appeal_id, for_update=for_update)
    if case is None:
        raise CaseNotFoundError(detail=str(appeal_id))
    return case


async def _approval(uow: UnitOfWork, staff: StaffIdentity, approval_id: int) -> ApprovalRow:
    request = await uow.appeals.approval(approval_id)
    if request is None:
        raise ApprovalNotFoundError(detail=str(approval_id))
    check_approver(request.requested_by_id, staff.id)
    if request.status != ApprovalStatus.PENDING.value:
        raise ApprovalDecidedError(detail=f"{approval_id} is {request.status}")
    return request


def _target(case: AppealRow) -> str:
    return f"appeal:{case.id}"


def _close(
    case: AppealRow,
    status: CaseStatus,
    action: Action,
    amount: int,
    reason: str,
    by: str,
    clock: Clock,
) -> None:
    case.status = status.value
    case.outcome, case.outcome_fen, case.outcome_reason = action.value, amount, reason.strip()
    case.decided_by, case.decided_at = by, clock.now()


async def _money_target(uow: UnitOfWork, case: AppealRow, action: Action, amount: int) -> str:
    """The stay a waiver lowers, or the payment a refund comes from."""
    if action is Action.WAIVE:
        if case.stay_ref is None:
            raise ConflictError("该投诉没有关联停车记录，无法减免", detail=str(case.id))
        return case.stay_ref
    found = [await uow.payments.get(case.out_trade_no)] if case.out_trade_no else []
    if case.stay_ref is not None and not found:
        found = list(reversed(await uow.payments.for_stay(case.stay_ref)))
    for payment in found:
        if payment is None:
            continue
        in_flight = await uow.payments.in_flight_fen(payment.out_trade_no)
        if payment_rules.refundable_fen(payment, in_flight) >= amount:
            return payment.out_trade_no
    raise NothingToRefundError(detail=f"{amount} fen for appeal {case.id}")


async def _ask_approval(
    uow: UnitOfWork,
    clock: Clock,
    staff: StaffIdentity,
    case: AppealRow,
    action: Action,
    target: str,
    amount: int,
    reason: str,
) -> Decision:
    request = ApprovalRow(
        appeal_id=case.id,
        action=action.value,
        target=target,
        amount_fen=amount,
        reason=reason.strip(),
        requested_by=staff.actor,
        requested_by_id=staff.id,
        requester_role=staff.role.value,
        status=ApprovalStatus.PENDING.value,
        created_at=clock.now(),
    )
    await uow.appeals.add_approval(request)
    case.status = CaseStatus.AWAITING_APPROVAL.value
    details = {"approval_id": request.id, "action": action.value, "amount_fen": amount}
    await audit.record(
        uow, clock, staff, "appeal.approval_requested", _target(case), reason, details
    )
    await uow.commit()
    return Decision(case.id, CaseStatus.AWAITING_APPROVAL, action, amount, request.id)


async def _waive(
    uow: UnitOfWork,
    clock: Clock,
    staff: StaffIdentity,
    case: AppealRow,
    amount: int,
    reason: str,
    decided_by: str,
) -> Waiver:
    """Close the case and waive through the audited waiver service, which commits all."""
    _close(case, CaseStatus.RESOLVED, Action.WAIVE, amount, reason, decided_by, clock)
    await _tell_driver(uow, clock, case)
    details = {"amount_fen": amount, "stay_ref": case.stay_ref}
    await audit.record(uow, clock, staff, "appeal.waive", _target(case), reason, details)
    return await waive_fee(uow, clock, staff, str(case.stay_ref), amount, reason)


async def _refund(
    uows: Uows,
    clock: Clock,
    ports: RefundPorts | None,
    staff: StaffIdentity,
    appeal_id: int,
    out_trade_no: str,
    amount: int,
    reason: str,
    request: ApprovalRow | None,
) -> Refund:
    """Ask for the refund through the audited refund service; on refusal reopen the case."""
    try:
        if ports is None:
            raise ConflictError("未配置微信支付，无法退款", detail="no payment gateway")
        refund = await request_refund(
            uows,
            clock,
            ports.gateway,
            ports.notify_url,
            out_trade_no=out_trade_no,
            amount_fen=amount,
            reason=reason,
            actor=staff,
        )
    except DomainError as exc:
        async with uows() as uow:
            case = await _case(uow, appeal_id, for_update=True)
            case.status = CaseStatus.OPEN.value
            case.outcome = case.outcome_fen = case.outcome_reason = None
            if request is not None:
                await uow.appeals.mark_failed(request.id, f"{exc.code}: {exc.detail}"[:500])
            details = {"error": exc.code, "out_trade_no": out_trade_no, "amount_fen": amount}
            await audit.record(
                uow, clock, staff, "appeal.refund_failed", _target(case), exc.message_zh, details
            )
            await uow.commit()
        raise
    async with uows() as uow:
        case = await _case(uow, appeal_id)
        await _tell_driver(uow, clock, case)
        await uow.commit()
    return refund


async def _failed(
    uows: Uows, clock: Clock, staff: StaffIdentity, request: ApprovalRow, exc: DomainError
) -> None:
    """An approved waiver the service refused: the request says so, the case reopens."""
    async with uows() as uow:
        await uow.appeals.mark_failed(request.id, f"{exc.code}: {exc.detail}"[:500])
        case = await _case(uow, request.appeal_id, for_update=True)
        case.status = CaseStatus.OPEN.value
        details = {"approval_id": request.id, "error": exc.code}
        await audit.record(
            uow, clock, staff, "approval.failed", _target(case), exc.message_zh, details
        )
        await uow.commit()


async def _tell_driver(uow: UnitOfWork, clock: Clock, case: AppealRow) -> None:
    """Queue the outcome notice for the outbox (subscribe message, else SMS); caller commits."""
    if case.driver_id is None or case.outcome is None:
        return
    action = Action(case.outcome)
    body = {
        "appeal_id": case.id,
        "stay_ref": case.stay_ref,
        "plate": case.plate,
        "outcome": action.value,
        "outcome_zh": OUTCOME_ZH[action],
        "amount_fen": case.outcome_fen or 0,
        "amount_zh": f"{format_yuan(case.outcome_fen or 0)}元",
        "reason": case.outcome_reason,
    }
    notice = NotificationRow(
        driver_id=case.driver_id,
        kind=APPEAL_OUTCOME,
        reference=f"appeal:{case.id}:{action.value}",
        body=body,
        created_at=clock.now(),
    )
    await uow.onstreet.queue_notification(notice)
