"""Auto-pay's results: a deduction's outcome, an entry's new state, and the steps recorded."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from core import payments
from core.auto_pay import CHANNEL_WECHAT_PARKING, ParkingState, ServiceState
from core.clock import Clock
from core.drivers import DriverNotifier
from core.lanes import LaneCommand
from core.notices import ARREARS_REMINDER
from core.parking_gateway import ParkingService
from core.payment_gateway import EntryStateReport, PaymentGateway, TradeState, TransactionReport
from core.services.payments import PaymentSetup, settle_payment, update_payment
from core.services.retrying import Uows
from core.store.activity import StayRow
from core.store.auto_pay import AutoPayStepRow, StayParkingRow
from core.store.devices import NotificationRow
from core.store.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AutoPayPorts:
    """What auto-pay talks to: the parking service, the payment gateway, the driver."""

    parking: ParkingService
    gateway: PaymentGateway
    notifier: DriverNotifier
    setup: PaymentSetup
    free_minutes: int = 0
    # How long a deduction may stay without a result before the driver is told to pay by hand.
    result_minutes: int = 30


async def record(
    uow: UnitOfWork,
    clock: Clock,
    step: str,
    outcome: str,
    *,
    stay_ref: str | None = None,
    out_trade_no: str | None = None,
    **detail: Any,
) -> None:
    """Keep one step for finance (inside the caller's unit of work)."""
    row = AutoPayStepRow(
        at=clock.now(),
        step=step,
        outcome=outcome,
        stay_ref=stay_ref,
        out_trade_no=out_trade_no,
        detail=detail,
    )
    uow.auto_pay.add(row)


async def apply_result(
    uows: Uows, clock: Clock, ports: AutoPayPorts, report: TransactionReport
) -> tuple[LaneCommand, ...]:
    """A deduction's result (notify or query): settle it once, or leave the stay owed."""
    if report.trade_state is TradeState.SUCCESS:
        settlement = await settle_payment(
            uows, clock, ports.gateway, ports.notifier, ports.setup, report
        )
        async with uows() as uow:
            parking = await uow.auto_pay.parking_of_payment(report.out_trade_no)
            if parking is not None and parking.state != ParkingState.DEDUCTED.value:
                parking.state = ParkingState.DEDUCTED.value
                refunded = settlement.duplicate_refund is not None
                await record(
                    uow,
                    clock,
                    "result",
                    "duplicate_refunded" if refunded else "settled",
                    stay_ref=parking.stay_ref,
                    out_trade_no=report.out_trade_no,
                    transaction_id=report.transaction_id,
                    amount_fen=report.amount_fen,
                )
                await uow.commit()
        return settlement.lane_commands
    if report.trade_state is TradeState.PAY_FAIL:
        await fail_deduction(uows, clock, report.out_trade_no, "PAY_FAIL")
    return ()


async def fail_deduction(uows: Uows, clock: Clock, out_trade_no: str, why: str) -> None:
    """The deduction failed: the payment fails, the stay stays owed and the driver is told."""
    payment = await update_payment(uows, out_trade_no, payments.fail)
    async with uows() as uow:
        parking = await uow.auto_pay.parking_of_payment(out_trade_no)
        if parking is None or parking.state == ParkingState.FAILED.value:
            return
        parking.state = ParkingState.FAILED.value
        stay = await uow.stays.by_ref(parking.stay_ref)
        await record(
            uow,
            clock,
            "result",
            "failed",
            stay_ref=parking.stay_ref,
            out_trade_no=out_trade_no,
            reason=why,
        )
        if stay is not None:
            notice = await arrears_notice(uow, clock, parking, stay, payment.amount_fen, "failed")
            uow.onstreet.add_notification(notice)
        await uow.commit()


async def arrears_notice(
    uow: UnitOfWork,
    clock: Clock,
    parking: StayParkingRow,
    stay: StayRow,
    amount_fen: int,
    outcome: str,
) -> NotificationRow:
    """An arrears notice for the outbox: the deduction failed or is late (`outcome`), pay it."""
    body = {
        "stay_ref": stay.ref,
        "plate": parking.plate,
        "berth": await uow.city.place_name(stay.berth_id, stay.lot_id),
        "exited_at": (stay.exited_at or clock.now()).isoformat(),
        "fee_fen": amount_fen,
        "auto_pay": outcome,
    }
    return NotificationRow(
        driver_id=parking.driver_id,
        kind=ARREARS_REMINDER,
        reference=f"{stay.ref}#auto-pay-{outcome}",
        body=body,
        created_at=clock.now(),
    )


async def apply_notice(
    uows: Uows, clock: Clock, ports: AutoPayPorts, report: TransactionReport
) -> tuple[LaneCommand, ...]:
    """A transaction notify: a deduction's result, or any other payment's success."""
    async with uows() as uow:
        payment = await uow.payments.get(report.out_trade_no)
    if payment is not None and payment.channel == CHANNEL_WECHAT_PARKING:
        return await apply_result(uows, clock, ports, report)
    if report.trade_state is not TradeState.SUCCESS:
        return ()
    settlement = await settle_payment(
        uows, clock, ports.gateway, ports.notifier, ports.setup, report
    )
    return settlement.lane_commands


async def apply_entry_state(uows: Uows, clock: Clock, report: EntryStateReport) -> None:
    """A user paused or resumed the service mid-stay: an entry not yet deducted follows."""
    async with uows() as uow:
        parking = await uow.auto_pay.parking_by_entry(report.out_parking_no, report.sub_mchid)
        if parking is None or parking.parking_id != report.parking_id:
            log.warning("entry state for unknown entry %s", report.out_parking_no)
            return
        await record(
            uow,
            clock,
            "entry_state",
            report.state,
            stay_ref=parking.stay_ref,
            reason=report.block_reason,
        )
        if parking.state in (ParkingState.DEDUCTIBLE.value, ParkingState.BLOCKED.value):
            normal = report.state == "NORMAL"
            parking.state = (ParkingState.DEDUCTIBLE if normal else ParkingState.BLOCKED).value
            parking.block_reason = None if normal else report.block_reason
        service = await uow.auto_pay.service(parking.driver_id, parking.plate)
        if service is not None:
            # Only "normal" is trusted to deduct; a block says no more than "not now".
            normal = report.state == "NORMAL"
            service.state = (ServiceState.NORMAL if normal else ServiceState.PAUSED).value
            service.checked_at = clock.now()
        await uow.commit()
