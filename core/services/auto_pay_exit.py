"""Auto-pay at a lot's exit and after it: the gate opens once WeChat Pay accepts the deduction,
and a deduction not settled in time leaves the stay owed, as if the car had left to pay later."""

from __future__ import annotations

from datetime import timedelta

from core.auto_pay import CHANNEL_WECHAT_PARKING, ParkingState
from core.clock import Clock
from core.lanes import Decision, LaneAction, LaneCommand
from core.payments import Payment
from core.services import lanes
from core.services.auto_pay_results import arrears_notice, record
from core.services.retrying import Uows
from core.store.auto_pay import StayParkingRow
from core.store.unit_of_work import UnitOfWork

ACCEPTED_REASON = "auto_pay_accepted"
OVERDUE = "overdue"


async def release_on_acceptance(
    uow: UnitOfWork, clock: Clock, parking: StayParkingRow
) -> list[LaneCommand]:
    """Open the exit lanes where the car waits for this stay's payment (in the caller's uow)."""
    stay = await uow.stays.by_ref(parking.stay_ref)
    if stay is None or stay.lot_id is None or parking.state != ParkingState.DEDUCTING.value:
        return []
    lot = await uow.city.lot(stay.lot_id)
    opened = Decision(LaneAction.OPEN, ACCEPTED_REASON, f"{parking.plate} 无感支付扣费中 一路顺风")
    commands: list[LaneCommand] = []
    for passage in await uow.lots.waiting_passages(stay.id):
        if passage.status == "awaiting_payment":
            commands += await lanes.open_waiting(uow, lot, passage, opened, CHANNEL_WECHAT_PARKING)
    if commands:
        await record(uow, clock, "exit", "released", stay_ref=stay.ref, lot=lot.code)
    return commands


async def tell_if_overdue(uows: Uows, clock: Clock, payment: Payment, wait_minutes: int) -> bool:
    """A deduction with no result `wait_minutes` after it was asked: tell the driver once.

    The stay is owed (it always was until the deduction settles), so the driver may pay it from
    the arrears page; a success arriving later still settles it, or is refunded when the driver
    paid first.
    """
    if clock.now() - payment.created_at < timedelta(minutes=wait_minutes):
        return False
    async with uows() as uow:
        parking = await uow.auto_pay.parking_of_payment(payment.out_trade_no)
        if parking is None or parking.state != ParkingState.DEDUCTING.value:
            return False
        steps = await uow.auto_pay.steps(parking.stay_ref)
        if any(s.step == "result" and s.outcome == OVERDUE for s in steps):
            return False
        stay = await uow.stays.by_ref(parking.stay_ref)
        if stay is None:
            return False
        await record(
            uow, clock, "result", OVERDUE, stay_ref=stay.ref, out_trade_no=payment.out_trade_no
        )
        notice = await arrears_notice(uow, clock, parking, stay, payment.amount_fen, OVERDUE)
        uow.onstreet.add_notification(notice)
        await uow.commit()
    return True
