"""Use case: staff waive all or part of a closed stay's unpaid fee, with an audited reason."""

from __future__ import annotations

from dataclasses import dataclass

from core.clock import Clock
from core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailedError
from core.ledger import arrear_written_off, fee_waived
from core.payments import OPEN_STATUSES
from core.services import audit
from core.services.lane_entry import receivable_subject
from core.services.stays import paid_toward
from core.staff import StaffIdentity, covers
from core.store.activity import StayRow
from core.store.unit_of_work import UnitOfWork


class WaivableStayNotFoundError(NotFoundError):
    """No closed, charged stay with this reference."""

    code = "stay_not_found"
    message_zh = "未找到该停车记录"


class StayWaitingAtLaneError(ConflictError):
    """The car waits at an exit for this fee: the lane's cashier or attendant releases it."""

    code = "stay_waiting_at_lane"
    message_zh = "车辆正在出口等待缴费，请由收费员或云坐席处理"


class PaymentInProgressError(ConflictError):
    """A WeChat order for the lot stay is open; waiving now would refund the whole payment."""

    code = "payment_in_progress"
    message_zh = "该停车记录有支付正在进行，请稍后再试"


class WaiverTooLargeError(ValidationFailedError):
    """A waiver is for 1 fen up to what is still due."""

    code = "waiver_too_large"


@dataclass(frozen=True, slots=True)
class Waiver:
    """What a waiver did to a stay's fee."""

    stay_ref: str
    waived_fen: int
    fee_before: int
    fee_after: int
    due_after: int


async def waive_fee(
    uow: UnitOfWork,
    clock: Clock,
    staff: StaffIdentity,
    stay_ref: str,
    amount_fen: int,
    reason: str,
    *,
    write_off: str | None = None,
) -> Waiver:
    """Lower a closed stay's fee by `amount_fen` of what is unpaid, post it, audit it; commits.

    With `write_off` (its reference) the fen are booked as a bad debt (坏账核销) instead of a
    waiver, and the stay's quote lists it under `write_offs`.
    """
    # Locked: a payment settling meanwhile sees the lower fee after, or this sees it paid.
    stay = await uow.stays.by_ref(stay_ref, for_update=True)
    if stay is None or stay.status != "closed" or not stay.fee_fen:
        raise WaivableStayNotFoundError(detail=stay_ref)
    details = await uow.lots.lot_stay(stay.id) if stay.lot_id is not None else None
    operator = await operator_in_scope(uow, staff, stay)
    if details is not None and any(
        p.status == "awaiting_payment" for p in await uow.lots.waiting_passages(stay.id)
    ):
        raise StayWaitingAtLaneError(detail=stay_ref)
    if details is not None and any(
        p.status in OPEN_STATUSES for p in await uow.payments.for_stay(stay.ref)
    ):  # at a lot a payment of more than is due is refunded whole: let it finish first
        raise PaymentInProgressError(detail=stay_ref)
    fee = stay.fee_fen
    due = fee - await paid_toward(uow, stay)
    if not 0 < amount_fen <= due:
        raise WaiverTooLargeError(
            f"减免金额须在 1 至 {max(due, 0)} 分之间", detail=f"{amount_fen} of {due} due"
        )
    stay.fee_fen = fee - amount_fen
    now = clock.now()
    quote = dict(stay.quote or {})
    record = {"fen": amount_fen, "by": staff.actor, "reason": reason.strip(), "at": now.isoformat()}
    key = "waivers" if write_off is None else "write_offs"
    quote[key] = [*quote.get(key, []), record]
    stay.quote = quote
    subject = receivable_subject(stay, details)
    entry = (
        fee_waived(stay.ref, subject, operator, amount_fen)
        if write_off is None
        else arrear_written_off(write_off, subject, operator, amount_fen)
    )
    await uow.ledger.post(entry, now)
    details_audit = {"amount_fen": amount_fen, "fee_before": fee, "fee_after": stay.fee_fen}
    action = "stay.waive" if write_off is None else "stay.write_off"
    await audit.record(uow, clock, staff, action, stay_ref, reason, details_audit)
    await uow.commit()
    return Waiver(stay_ref, amount_fen, fee, fee - amount_fen, due - amount_fen)


async def operator_in_scope(uow: UnitOfWork, staff: StaffIdentity, stay: StayRow) -> str:
    """The stay's operator code, if the account's scope covers the stay's place."""
    operator = await uow.city.operator(stay.operator_id)
    district, lot_code = None, None
    if stay.zone_id is not None:
        zone = await uow.city.zone(stay.zone_id)
        district = await uow.city.district_code(zone.district_id)
    if stay.lot_id is not None:
        lot = await uow.city.lot(stay.lot_id)
        district, lot_code = await uow.city.district_code(lot.district_id), lot.code
    if not covers(staff.scope, operator.code, district, lot_code):
        raise PermissionDeniedError(detail=f"{staff.actor} does not cover {stay.ref}")
    return operator.code
