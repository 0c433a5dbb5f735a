"""Use cases of cashiers: a shift at a lane or office, cash, free releases (codes: micropay.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from core.billing import SHANGHAI
from core.cashier import (
    Receipt,
    ShiftCount,
    ShiftOpenError,
    Taking,
    check_explained,
    count_shift,
    receipt_text,
)
from core.clock import Clock
from core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailedError
from core.lanes import LaneCommand
from core.ledger import cash_received, fee_waived
from core.money import format_yuan
from core.services import audit
from core.services.lane_entry import receivable_subject
from core.services.lanes import StayNotFoundError, settle_exit_payment
from core.staff import StaffIdentity, covers
from core.store.activity import StayRow
from core.store.lots import CashierShiftRow, LotStayRow, ShiftTakingRow
from core.store.unit_of_work import UnitOfWork


class NothingDueError(ConflictError):
    """The stay owes nothing (paid already, or not priced yet)."""

    code = "nothing_due"
    message_zh = "该停车记录无需缴费"


@dataclass(frozen=True, slots=True)
class TakingResult:
    """What a taking did: the receipt (for cash) and the commands that open the lane."""

    receipt_no: str
    amount_fen: int
    receipt_text: str | None
    commands: list[LaneCommand]


@dataclass(frozen=True, slots=True)
class ShiftReport:
    """A shift and its count."""

    ref: str
    cashier_id: int
    lot: str
    status: str
    count: ShiftCount
    explanation: str | None
    takings: list[ShiftTakingRow]


async def open_shift(
    uow: UnitOfWork,
    clock: Clock,
    staff: StaffIdentity,
    lot_code: str,
    lane_code: str | None,
    opening_float_fen: int,
) -> CashierShiftRow:
    """Start a shift at a lane (or the lot office when no lane); one open shift per cashier."""
    lot = await uow.city.lot_by_code(lot_code)
    if lot is None:
        raise NotFoundError("停车场不存在", detail=lot_code)
    operator, district = await uow.lots.lot_place_codes(lot)
    if not covers(staff.scope, operator, district, lot.code):
        raise PermissionDeniedError(detail=f"{staff.username} does not cover {lot.code}")
    lane_id = None
    if lane_code is not None:
        found = await uow.lots.lane(lot_code, lane_code)
        if found is None:
            raise NotFoundError("车道不存在", detail=f"{lot_code}/{lane_code}")
        lane_id = found[0].id
    if await uow.lots.open_shift(staff.id) is not None:
        raise ShiftOpenError("已有未结束的班次，请先交班", detail=staff.username)
    shift = CashierShiftRow(
        ref=uuid.uuid4().hex[:20],
        staff_id=staff.id,
        lot_id=lot.id,
        lane_id=lane_id,
        status="open",
        opening_float_fen=opening_float_fen,
        opened_at=clock.now(),
    )
    uow.lots.add(shift)
    where = f"{lot_code}/{lane_code or 'office'}"
    details = {"float_fen": opening_float_fen, "where": where, "shift": shift.ref}
    await audit.record(uow, clock, staff, "cashier.open_shift", f"lot:{lot_code}", "开班", details)
    await uow.commit()
    return shift


async def current_shift(uow: UnitOfWork, staff: StaffIdentity) -> CashierShiftRow:
    """The staff member's open shift; ShiftOpenError when there is none."""
    shift = await uow.lots.open_shift(staff.id)
    if shift is None:
        raise ShiftOpenError("请先开班", detail=staff.username)
    return shift


async def amount_due(
    uow: UnitOfWork, shift: CashierShiftRow, stay_ref: str
) -> tuple[StayRow, LotStayRow, int]:
    """A closed stay of the shift's lot and what it still owes (NothingDueError: nothing).

    The stay is locked until the unit ends, so a WeChat payment settling at the same moment
    sees this one's taking (and is refunded), or this sees it paid.
    """
    stay = await uow.stays.by_ref(stay_ref, for_update=True)
    details = await uow.lots.lot_stay(stay.id) if stay is not None else None
    if stay is None or details is None or stay.lot_id != shift.lot_id:
        raise StayNotFoundError(detail=f"{stay_ref} is not a stay of the shift's lot")
    due = (stay.fee_fen or 0) - details.paid_fen
    if stay.status != "closed" or due <= 0:
        raise NothingDueError(detail=f"{stay_ref}: status {stay.status}, due {due}")
    return stay, details, due


async def take_cash(
    uow: UnitOfWork, clock: Clock, staff: StaffIdentity, stay_ref: str, amount_fen: int
) -> TakingResult:
    """Take cash for a stay's fee (exactly what is due); prints a receipt and opens the lane."""
    shift = await current_shift(uow, staff)
    stay, details, due = await amount_due(uow, shift, stay_ref)
    if amount_fen != due:
        raise ValidationFailedError(f"应收{format_yuan(due)}元", detail=f"{amount_fen} != {due}")
    receipt_no = new_receipt_no(clock)
    subject = receivable_subject(stay, details)
    await uow.ledger.post(cash_received(receipt_no, shift.ref, subject, due), clock.now())
    keep_taking(uow, shift, stay_ref, "cash", due, receipt_no, clock)
    commands = await settle_exit_payment(uow, clock, stay_ref, due, "cash")
    lot = await uow.city.lot(shift.lot_id)
    receipt = Receipt(
        receipt_no,
        lot.name,
        stay.plate or "无牌车",
        stay.entered_at,
        stay.exited_at,
        stay.fee_fen or 0,
        due,
        staff.username,
        clock.now(),
    )
    details_out = {"shift": shift.ref, "amount_fen": due, "receipt": receipt_no}
    await audit.record(
        uow, clock, staff, "cashier.cash", f"stay:{stay_ref}", "现金收费", details_out
    )
    await uow.commit()
    return TakingResult(receipt_no, due, receipt_text(receipt), commands)


async def release_free(
    uow: UnitOfWork, clock: Clock, staff: StaffIdentity, stay_ref: str, reason: str
) -> TakingResult:
    """Let a car out without payment; the reason is required and the fee is waived."""
    shift = await current_shift(uow, staff)
    stay, details, due = await amount_due(uow, shift, stay_ref)
    operator = await uow.city.operator(stay.operator_id)
    receipt_no = new_receipt_no(clock)
    subject = receivable_subject(stay, details)
    await uow.ledger.post(fee_waived(receipt_no, subject, operator.code, due), clock.now())
    taking = keep_taking(uow, shift, stay_ref, "free", 0, receipt_no, clock)
    taking.reason = reason
    commands = await settle_exit_payment(uow, clock, stay_ref, due, "free")
    details_out = {"shift": shift.ref, "waived_fen": due}
    await audit.record(uow, clock, staff, "cashier.free", f"stay:{stay_ref}", reason, details_out)
    await uow.commit()
    return TakingResult(receipt_no, 0, None, commands)


async def close_shift(
    uow: UnitOfWork,
    clock: Clock,
    staff: StaffIdentity,
    counted_cash_fen: int,
    explanation: str | None,
) -> ShiftReport:
    """Hand over: count the drawer; a difference needs an explanation and is kept with it."""
    shift = await current_shift(uow, staff)
    takings = await uow.lots.takings(shift.id)
    count = count_shift(
        shift.opening_float_fen,
        [Taking(t.channel, t.amount_fen) for t in takings],
        counted_cash_fen,
    )
    check_explained(count, explanation)
    shift.status = "closed"
    shift.closed_at = clock.now()
    shift.expected_cash_fen = count.expected_cash_fen
    shift.counted_cash_fen = counted_cash_fen
    shift.difference_fen = count.difference_fen
    shift.explanation = (explanation or "").strip() or None
    details = {
        "shift": shift.ref,
        "expected_fen": count.expected_cash_fen,
        "counted_fen": counted_cash_fen,
        "difference_fen": count.difference_fen,
    }
    why = shift.explanation or "交班"
    await audit.record(uow, clock, staff, "cashier.close_shift", f"shift:{shift.ref}", why, details)
    await uow.commit()
    lot = await uow.city.lot(shift.lot_id)
    return ShiftReport(shift.ref, staff.id, lot.code, "closed", count, shift.explanation, takings)


async def shift_report(uow: UnitOfWork, staff: StaffIdentity, ref: str) -> ShiftReport:
    """A shift's takings and count; cashiers see their own, supervisors any in scope."""
    shift = await uow.lots.shift_by_ref(ref)
    if shift is None:
        raise NotFoundError("班次不存在", detail=ref)
    lot = await uow.city.lot(shift.lot_id)
    operator, district = await uow.lots.lot_place_codes(lot)
    if not covers(staff.scope, operator, district, lot.code):
        raise PermissionDeniedError(detail=f"{staff.username} does not cover {lot.code}")
    if staff.role.value == "cashier" and shift.staff_id != staff.id:
        raise PermissionDeniedError(detail="a cashier sees only their own shifts")
    takings = await uow.lots.takings(shift.id)
    counted = shift.counted_cash_fen if shift.counted_cash_fen is not None else 0
    count = count_shift(
        shift.opening_float_fen, [Taking(t.channel, t.amount_fen) for t in takings], counted
    )
    return ShiftReport(
        shift.ref, shift.staff_id, lot.code, shift.status, count, shift.explanation, takings
    )


def new_receipt_no(clock: Clock) -> str:
    """A receipt number, also the merchant order number of a payment-code charge."""
    # The date is the Beijing one: a receipt printed at 01:00 carries that day, not yesterday.
    return f"R{clock.now().astimezone(SHANGHAI):%Y%m%d}{uuid.uuid4().hex[:12].upper()}"


def keep_taking(
    uow: UnitOfWork,
    shift: CashierShiftRow,
    stay_ref: str,
    channel: str,
    amount_fen: int,
    receipt_no: str,
    clock: Clock,
    provider_ref: str | None = None,
) -> ShiftTakingRow:
    """Add a taking to the shift (in the caller's unit of work)."""
    taking = ShiftTakingRow(
        shift_id=shift.id,
        stay_ref=stay_ref,
        channel=channel,
        amount_fen=amount_fen,
        receipt_no=receipt_no,
        provider_ref=provider_ref,
        created_at=clock.now(),
    )
    uow.lots.add(taking)
    return taking
