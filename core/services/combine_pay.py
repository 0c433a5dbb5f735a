"""Use cases of paying a plate's arrears at once: combined payment (合单), one sub-order per stay.

Each stay's sub-order goes to its own operator's sub-merchant (never pooled) and is an ordinary
payment of that stay, settled through core.services.payments: a failed sub-order leaves its stay
owed and the others paid.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from core import auto_pay, payments
from core.auto_pay import CHANNEL_WECHAT_COMBINE, NothingToCombineError
from core.clock import Clock
from core.errors import DomainError
from core.lanes import LaneCommand
from core.parking_gateway import CombineReport, CombineRequest, SubOrder
from core.payment_gateway import GatewayRejectedError, RequestPayment, TradeState
from core.payments import SHANGHAI, Payment, PaymentStatus
from core.services import vehicles
from core.services.auto_pay import AutoPayPorts, record
from core.services.lane_entry import lot_policy
from core.services.lanes import StayNotFoundError
from core.services.payments import (
    payer_openid,
    settle_payment,
    shared_by_contract,
    update_payment,
)
from core.services.retrying import Uows
from core.store.auto_pay import CombinePartRow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CombinedPayment:
    """A combined order ready to pay: its number, its sub-orders and wx.requestPayment."""

    combine_out_trade_no: str
    parts: tuple[Payment, ...]
    request_payment: RequestPayment


def new_combine_no(clock: Clock) -> str:
    """A combined order number: CP, Beijing time to the second, 12 random hex digits."""
    return f"CP{clock.now().astimezone(SHANGHAI):%Y%m%d%H%M%S}{secrets.token_hex(6).upper()}"


async def start_combined(
    uows: Uows,
    clock: Clock,
    ports: AutoPayPorts,
    *,
    driver_id: int,
    plate: str,
    stay_refs: list[str] | None,
) -> CombinedPayment:
    """One JSAPI payment for a plate's owed stays, a sub-order per stay to its sub-merchant."""
    return await _start(
        uows,
        clock,
        ports,
        _Ask(driver_id, plate, lambda owed: auto_pay.combine_choice(owed, stay_refs), True),
    )


async def start_at_exit(
    uows: Uows, clock: Clock, ports: AutoPayPorts, *, driver_id: int, stay_ref: str
) -> CombinedPayment:
    """At a lot collecting city arrears: the exit's fee and the plate's arrears in one payment.

    Whoever is at the exit may pay (as for the exit's own fee), verified for the plate or not.
    """
    async with uows() as uow:
        stay = await uow.stays.by_ref(stay_ref)
        if stay is None or stay.lot_id is None or stay.plate is None:
            raise StayNotFoundError(detail=f"lot stay {stay_ref!r}")
        policy = await lot_policy(uow, await uow.city.lot(stay.lot_id))
    if not policy.collect_arrears_at_exit:
        raise NothingToCombineError("本停车场不在出口收取其他欠费", detail="lot does not collect")
    choose = partial(auto_pay.exit_choice, stay_ref)
    return await _start(uows, clock, ports, _Ask(driver_id, stay.plate, choose, False))


@dataclass(frozen=True, slots=True)
class _Ask:
    """Who pays which plate's owed stays: the choice among them, and whether to check them."""

    driver_id: int
    plate: str
    choose: Callable[[dict[str, int]], dict[str, int]]
    verified_only: bool


async def _start(uows: Uows, clock: Clock, ports: AutoPayPorts, ask: _Ask) -> CombinedPayment:
    combine_no = new_combine_no(clock)
    parts = await _reserve(uows, clock, ports, ask, combine_no)
    request = CombineRequest(
        combine_out_trade_no=combine_no,
        appid=ports.setup.appid,
        payer_openid=parts[0].payer_openid,
        sub_orders=tuple(
            SubOrder(
                p.out_trade_no,
                p.sub_mchid,
                p.amount_fen,
                f"停车欠费-{p.plate}",
                p.stay_ref or "",
                profit_sharing=p.profit_sharing,
            )
            for p in parts
        ),
        notify_url=ports.setup.notify_url,
        expires_at=clock.now() + timedelta(minutes=ports.setup.order_minutes),
    )
    try:
        prepay_id = await ports.parking.combine_prepay(request)
    except GatewayRejectedError:
        for part in parts:
            await update_payment(uows, part.out_trade_no, payments.fail)
        raise
    opened = []
    for part in parts:
        opened.append(
            await update_payment(
                uows, part.out_trade_no, lambda p: payments.attach_prepay(p, prepay_id)
            )
        )
    async with uows() as uow:
        await record(uow, clock, "combine", "prepaid", combine=combine_no, plate=ask.plate)
        await uow.commit()
    signed = ports.gateway.request_payment(ports.setup.appid, prepay_id, clock.now())
    return CombinedPayment(combine_no, tuple(opened), signed)


async def _reserve(
    uows: Uows, clock: Clock, ports: AutoPayPorts, ask: _Ask, combine_no: str
) -> list[Payment]:
    driver_id, plate = ask.driver_id, ask.plate
    async with uows() as uow:
        await uow.payments.lock_for_write()
        if ask.verified_only:
            await vehicles.require_verified(uow, driver_id, plate)
        openid = await payer_openid(uow, ports.setup, driver_id)
        owed_rows = await uow.stays.unpaid_for_plate(plate)
        owed = {row.ref: due for row, due in owed_rows}
        chosen = ask.choose(owed)
        now = clock.now()
        parts = []
        for row, _ in owed_rows:
            if row.ref not in chosen:
                continue
            operator = await uow.city.operator(row.operator_id)
            payment = Payment(
                out_trade_no=payments.new_out_trade_no(now),
                channel=CHANNEL_WECHAT_COMBINE,
                stay_ref=row.ref,
                plate=plate,
                operator_code=operator.code,
                sub_mchid=operator.sub_mchid,
                amount_fen=chosen[row.ref],
                payer_openid=openid,
                appid=ports.setup.appid,
                status=PaymentStatus.CREATED,
                created_at=now,
                profit_sharing=await shared_by_contract(uow, operator.code, now),
            )
            key = f"combine:{combine_no}:{row.ref}"
            await uow.payments.add(payment, driver_id=driver_id, idempotency_key=key)
            uow.auto_pay.add(
                CombinePartRow(
                    out_trade_no=payment.out_trade_no,
                    combine_out_trade_no=combine_no,
                    driver_id=driver_id,
                    created_at=now,
                )
            )
            await record(
                uow,
                clock,
                "combine",
                "reserved",
                stay_ref=row.ref,
                out_trade_no=payment.out_trade_no,
                combine=combine_no,
            )
            parts.append(payment)
        await uow.commit()
        return parts


async def apply_combined(
    uows: Uows, clock: Clock, ports: AutoPayPorts, report: CombineReport
) -> tuple[LaneCommand, ...]:
    """Apply each sub-order's state: paid ones settle their stays (a waiting car's lane opens),
    failed ones fail."""
    async with uows() as uow:
        known = {
            p.out_trade_no for p in await uow.auto_pay.combine_parts(report.combine_out_trade_no)
        }
    commands: list[LaneCommand] = []
    for sub in report.sub_orders:
        if sub.out_trade_no not in known:
            continue  # never ours: not applied (the notify was verified, the number is not)
        if sub.trade_state is TradeState.SUCCESS:
            settlement = await settle_payment(
                uows, clock, ports.gateway, ports.notifier, ports.setup, sub
            )
            commands.extend(settlement.lane_commands)
        elif sub.trade_state in (TradeState.PAYERROR, TradeState.CLOSED):
            await update_payment(uows, sub.out_trade_no, _fail_open)
        async with uows() as uow:
            await record(
                uow,
                clock,
                "combine",
                sub.trade_state.value.lower(),
                out_trade_no=sub.out_trade_no,
                combine=report.combine_out_trade_no,
                transaction_id=sub.transaction_id,
                amount_fen=sub.amount_fen,
            )
            await uow.commit()
    return tuple(commands)


def _fail_open(payment: Payment) -> payments.Transition[Payment]:
    if payment.status not in payments.OPEN_STATUSES:
        return payments.Transition(payment, False)
    return payments.fail(payment)


@dataclass(frozen=True, slots=True)
class StaleCombined:
    """What the sweep of combined orders did: orders closed, and the lane commands of the
    sub-orders it found paid (a car waiting at an exit), to publish after."""

    closed: int
    lane_commands: tuple[LaneCommand, ...]


async def close_stale_combined(uows: Uows, clock: Clock, ports: AutoPayPorts) -> StaleCombined:
    """Close combined orders left unpaid past their expiry.

    Asked first (a payment may have landed with its notify lost) and applied as the notify is,
    by `apply_combined`; what is still open is closed at WeChat Pay with the combined close,
    then here. Closing twice changes nothing.
    """
    expired = timedelta(minutes=ports.setup.order_minutes) + payments.CLOSE_AFTER
    async with uows() as uow:
        stale = await uow.auto_pay.open_combines_before(clock.now() - expired)
    closed = 0
    commands: list[LaneCommand] = []
    for combine_no in stale:
        try:
            report = await ports.parking.combine_query(combine_no)
            commands.extend(await apply_combined(uows, clock, ports, report))
            closed += await _close(uows, clock, ports, combine_no)
        except DomainError as exc:  # WeChat Pay down or refusing: the next sweep tries again
            log.warning("combined order %s not closed: %s", combine_no, exc.detail)
    return StaleCombined(closed, tuple(commands))


async def _close(uows: Uows, clock: Clock, ports: AutoPayPorts, combine_no: str) -> int:
    async with uows() as uow:
        numbers = [p.out_trade_no for p in await uow.auto_pay.combine_parts(combine_no)]
        parts = [await uow.payments.get(no) for no in numbers]
    still_open = [p for p in parts if p is not None and p.status in payments.OPEN_STATUSES]
    if not still_open:
        return 0
    subs = tuple((p.sub_mchid, p.out_trade_no) for p in still_open)
    await ports.parking.combine_close(combine_no, ports.setup.appid, subs)
    now = clock.now()
    for part in still_open:
        await update_payment(uows, part.out_trade_no, lambda p: _close_open(p, now))
    async with uows() as uow:
        await record(uow, clock, "combine", "closed", combine=combine_no, parts=len(still_open))
        await uow.commit()
    return 1


def _close_open(payment: Payment, now: datetime) -> payments.Transition[Payment]:
    if payment.status not in payments.OPEN_STATUSES:
        return payments.Transition(payment, False)
    return payments.close(payment, now)
