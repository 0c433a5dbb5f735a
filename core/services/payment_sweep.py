"""Use cases: closing unpaid orders (never within five minutes) and the payments housekeeping."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from core import payments
from core.clock import Clock
from core.drivers import DriverNotifier
from core.errors import ConflictError
from core.lanes import LaneCommand
from core.payment_gateway import GatewayRejectedError, PaymentGateway
from core.payments import PaymentStatus
from core.services import auto_pay, combine_pay, refunds
from core.services.auto_pay import AutoPayPorts
from core.services.payments import (
    CHANNEL_WECHAT_JSAPI,
    PaymentSetup,
    Settlement,
    load_payment,
    refresh_payment,
    update_payment,
)
from core.services.retrying import Uows

log = logging.getLogger(__name__)


async def close_payment(
    uows: Uows,
    clock: Clock,
    gateway: PaymentGateway,
    notifier: DriverNotifier,
    setup: PaymentSetup,
    out_trade_no: str,
) -> Settlement:
    """Withdraw an unpaid order at the provider and here; not within five minutes. An order
    found paid meanwhile is settled instead (its lane commands are the caller's to publish)."""
    async with uows() as uow:
        payment = await load_payment(uow, out_trade_no)
    payments.close(payment, clock.now())  # raises before bothering the provider
    if payment.status is PaymentStatus.PENDING:
        try:
            await gateway.close(payment.out_trade_no, payment.sub_mchid)
        except GatewayRejectedError as exc:
            if exc.provider_code != "ORDERPAID":
                raise
            # Paid meanwhile: the query settles it, and it is not closed.
            return await refresh_payment(uows, clock, gateway, notifier, setup, out_trade_no)
    closed = await update_payment(uows, out_trade_no, lambda p: payments.close(p, clock.now()))
    return Settlement(closed, closed.status is not payment.status)


async def close_stale_payments(
    uows: Uows,
    clock: Clock,
    gateway: PaymentGateway,
    notifier: DriverNotifier,
    setup: PaymentSetup,
    *,
    older_than: timedelta,
) -> list[Settlement]:
    """Query, then close, every order left unpaid longer than `older_than` (at least 5 min)."""
    age = max(older_than, payments.CLOSE_AFTER)
    async with uows() as uow:
        stale = await uow.payments.open_created_before(clock.now() - age)
    done = []
    for payment in stale:
        try:
            ports = (uows, clock, gateway, notifier, setup)
            current = await refresh_payment(*ports, payment.out_trade_no)
            # A payment-code order is reversed by the cashier's adapter, never closed here;
            # one left open (its outcome unknown) is queried again at the next sweep.
            left = current.payment
            if left.status in payments.OPEN_STATUSES and left.channel == CHANNEL_WECHAT_JSAPI:
                current = await close_payment(*ports, payment.out_trade_no)
            done.append(current)
        except ConflictError as exc:
            log.warning("could not close %s: %s", payment.out_trade_no, exc.detail)
    return done


async def sweep(
    uows: Uows,
    clock: Clock,
    gateway: PaymentGateway,
    notifier: DriverNotifier,
    setup: PaymentSetup,
) -> tuple[LaneCommand, ...]:
    """Housekeeping: settle or close orders left unpaid past their expiry, resend refunds; the
    lane commands of stays found paid, to publish after."""
    expired = timedelta(minutes=setup.order_minutes) + payments.CLOSE_AFTER
    ports = (uows, clock, gateway, notifier, setup)
    done = await close_stale_payments(*ports, older_than=expired)
    await refunds.resubmit_requested(uows, clock, gateway, setup.refund_notify_url)
    return tuple(command for settled in done for command in settled.lane_commands)


async def sweep_all(uows: Uows, clock: Clock, ports: AutoPayPorts) -> tuple[LaneCommand, ...]:
    """One round of every payment sweep (JSAPI orders and refunds, parking-service deductions,
    combined orders), each settling through core.services.payments as its notify would; the
    lane commands of the stays they found paid, for the caller to publish after.

    A step that fails is logged and the others still run: their cars still get their gates.
    """
    steps: dict[str, Callable[[], Awaitable[tuple[LaneCommand, ...]]]] = {
        "payments": lambda: sweep(uows, clock, ports.gateway, ports.notifier, ports.setup),
        "auto-pay": lambda: auto_pay.sweep(uows, clock, ports),
        "combined": lambda: _combined(uows, clock, ports),
    }
    commands: list[LaneCommand] = []
    for name, step in steps.items():
        try:
            commands.extend(await step())
        except Exception:  # WeChat Pay or the database away: the next round tries again
            log.exception("%s sweep failed; the next round tries again", name)
    return tuple(commands)


async def _combined(uows: Uows, clock: Clock, ports: AutoPayPorts) -> tuple[LaneCommand, ...]:
    return (await combine_pay.close_stale_combined(uows, clock, ports)).lane_commands
