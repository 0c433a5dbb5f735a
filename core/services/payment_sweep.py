"""Use cases: closing unpaid orders (never within five minutes) and the payments housekeeping."""

from __future__ import annotations

import logging
from datetime import timedelta

from core import payments
from core.clock import Clock
from core.drivers import DriverNotifier
from core.errors import ConflictError
from core.payment_gateway import GatewayRejectedError, PaymentGateway
from core.payments import Payment, PaymentStatus
from core.services import refunds
from core.services.payments import (
    CHANNEL_WECHAT_JSAPI,
    PaymentSetup,
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
) -> Payment:
    """Withdraw an unpaid order at the provider and here; not within five minutes."""
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
    return await update_payment(uows, out_trade_no, lambda p: payments.close(p, clock.now()))


async def close_stale_payments(
    uows: Uows,
    clock: Clock,
    gateway: PaymentGateway,
    notifier: DriverNotifier,
    setup: PaymentSetup,
    *,
    older_than: timedelta,
) -> list[Payment]:
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
            if current.status in payments.OPEN_STATUSES and current.channel == CHANNEL_WECHAT_JSAPI:
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
) -> None:
    """Housekeeping: settle or close orders left unpaid past their expiry, resend refunds."""
    expired = timedelta(minutes=setup.order_minutes) + payments.CLOSE_AFTER
    await close_stale_payments(uows, clock, gateway, notifier, setup, older_than=expired)
    await refunds.resubmit_requested(uows, clock, gateway, setup.refund_notify_url)
