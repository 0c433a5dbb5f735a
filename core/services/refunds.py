"""Use cases of refunds: ask for one (full or partial), apply the provider's answer once."""

from __future__ import annotations

import logging
from datetime import datetime

from core import payments
from core.clock import Clock
from core.drivers import DriverMessage, DriverNotifier
from core.errors import DomainError, PermissionDeniedError
from core.ledger import payment_refunded, stay_charge_reversed
from core.money import format_yuan
from core.payment_gateway import (
    GatewayRejectedError,
    PaymentGateway,
    ProviderRefundStatus,
    RefundOrder,
    RefundReport,
)
from core.payments import (
    Payment,
    PaymentNotFoundError,
    PaymentPurpose,
    PaymentStatus,
    Refund,
    RefundNotFoundError,
    RefundStatus,
)
from core.services import audit, invoices, pass_sales
from core.services.lane_entry import receivable_subject
from core.services.retrying import Uows, retrying
from core.staff import StaffIdentity, covers
from core.store.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

DUPLICATE_REFUNDED = "duplicate_payment_refunded"
OVERPAID_REASON = "停车记录更正，多收费用退还"
OVERPAID_ACTOR = "system:stay_corrections"
DUPLICATE_ACTOR = "system:payments"  # asks for the refund of a second payment of a stay


async def request_refund(
    uows: Uows,
    clock: Clock,
    gateway: PaymentGateway,
    notify_url: str,
    *,
    out_trade_no: str,
    amount_fen: int,
    reason: str,
    actor: StaffIdentity | str,
) -> Refund:
    """Record a refund and ask the provider for it; a staff member's request is audited."""
    refund = await retrying(
        lambda: _record(uows, clock, out_trade_no, amount_fen, reason.strip(), actor)
    )
    return await submit_refund(uows, clock, gateway, notify_url, refund.out_refund_no)


async def _record(
    uows: Uows,
    clock: Clock,
    out_trade_no: str,
    amount_fen: int,
    reason: str,
    actor: StaffIdentity | str,
) -> Refund:
    async with uows() as uow:
        payment = await _payment(uow, out_trade_no, for_update=True)
        in_flight = await uow.payments.in_flight_fen(out_trade_no)
        now = clock.now()
        payments.check_refund(payment, amount_fen, in_flight, now)
        if isinstance(actor, StaffIdentity) and not covers(
            actor.scope, operator_code=payment.operator_code
        ):
            raise PermissionDeniedError(detail=f"{actor.actor} does not cover {out_trade_no}")
        await pass_sales.hold_refund(uow, payment, amount_fen)
        name = actor.actor if isinstance(actor, StaffIdentity) else actor
        refund = Refund(
            out_refund_no=payments.new_out_refund_no(now),
            out_trade_no=out_trade_no,
            amount_fen=amount_fen,
            reason=reason or "退款",
            requested_by=name,
            status=RefundStatus.REQUESTED,
            created_at=now,
        )
        await uow.payments.add_refund(refund)
        # Saving the unchanged payment bumps its version, so two refunds asked for at once
        # cannot both pass the "money left" check: the later one conflicts and re-checks.
        await uow.payments.save(payment)
        if isinstance(actor, StaffIdentity):
            details = {"out_refund_no": refund.out_refund_no, "amount_fen": amount_fen}
            await audit.record(uow, clock, actor, "payment_refund", out_trade_no, reason, details)
        await uow.commit()
        return refund


async def submit_refund(
    uows: Uows, clock: Clock, gateway: PaymentGateway, notify_url: str, out_refund_no: str
) -> Refund:
    """Send a recorded refund to the provider (again, safely, if it was sent before)."""
    async with uows() as uow:
        refund = await _refund(uow, out_refund_no)
        payment = await _payment(uow, refund.out_trade_no)
    if refund.status is not RefundStatus.REQUESTED:
        return refund
    order = RefundOrder(
        out_refund_no=refund.out_refund_no,
        out_trade_no=refund.out_trade_no,
        sub_mchid=payment.sub_mchid,
        refund_fen=refund.amount_fen,
        total_fen=payment.amount_fen,
        reason=refund.reason,
        notify_url=notify_url,
    )
    try:
        report = await gateway.refund(order)
    except GatewayRejectedError as exc:
        log.warning("refund %s refused: %s", out_refund_no, exc.detail)
        await _end(uows, out_refund_no, RefundStatus.CLOSED)
        raise
    return await apply_refund_report(uows, clock, report)


async def apply_refund_report(uows: Uows, clock: Clock, report: RefundReport) -> Refund:
    """Apply what the provider says about a refund; success posts the ledger entry once."""
    return await retrying(lambda: _apply(uows, clock, report))


async def _apply(uows: Uows, clock: Clock, report: RefundReport) -> Refund:
    async with uows() as uow:
        refund = await _refund(uow, report.out_refund_no, for_update=True)
        if report.status is ProviderRefundStatus.PROCESSING:
            transition = payments.refund_accepted(refund, report.refund_id)
        elif report.status is ProviderRefundStatus.SUCCESS:
            transition = payments.refund_succeeded(
                refund,
                refund_id=report.refund_id,
                amount_fen=report.refund_fen,
                at=report.success_time or clock.now(),
            )
        else:
            transition = payments.refund_ended(refund, RefundStatus(report.status.lower()))
        if not transition.changed:
            return refund
        await uow.payments.save_refund(transition.state)
        if transition.state.status is RefundStatus.SUCCESS:
            payment = await _payment(uow, refund.out_trade_no, for_update=True)
            await _refunded(uow, clock, payment, refund)
        elif transition.state.status not in payments.IN_FLIGHT_REFUNDS:
            payment = await _payment(uow, refund.out_trade_no)
            await pass_sales.release_refund(uow, payment, refund.amount_fen)
            if refund.requested_by in (DUPLICATE_ACTOR, OVERPAID_ACTOR):
                # The money stays with the operator while it is the driver's: finance pays it
                # out by hand (WeChat Pay's console or a transfer); the log is where they see it.
                log.error(
                    "automatic refund %s of %s ended %s: %s fen to pay back by hand",
                    refund.out_refund_no,
                    refund.out_trade_no,
                    transition.state.status.value,
                    refund.amount_fen,
                )
        await uow.commit()
        return transition.state


async def _refunded(uow: UnitOfWork, clock: Clock, payment: Payment, refund: Refund) -> None:
    """The money is back with the payer: the payment holds less, the ledger says why."""
    after = payments.apply_refund(payment, refund.amount_fen)
    await uow.payments.save(after)
    await invoices.after_refund(uow, clock, after)  # an invoice saying more is reversed (红冲)
    if payment.purpose is PaymentPurpose.STAY:
        await _correct_stay(uow, clock, payment, refund)
        entry = payment_refunded(
            refund.out_refund_no, payment.plate, payment.sub_mchid, refund.amount_fen
        )
    else:
        entry = await pass_sales.refund_entry(uow, payment, refund)
        if after.status is PaymentStatus.REFUNDED:
            await pass_sales.withdraw_pass(uow, after)
    await uow.ledger.post(entry, clock.now())


async def _correct_stay(uow: UnitOfWork, clock: Clock, payment: Payment, refund: Refund) -> None:
    """Money back from a payment of a stay: what the stay held beyond its fee goes first; the
    rest says the fee was too high, and the fee comes down by it.

    Automatic refunds (of a second payment, of an overpayment) only give back what the stay
    held beyond its fee, so they correct nothing.
    """
    if refund.requested_by in (DUPLICATE_ACTOR, OVERPAID_ACTOR):
        return  # it gives back what the stay held beyond its fee: nothing to correct
    stay = await uow.stays.by_ref(payment.stay_ref or "", for_update=True)
    if stay is None:
        return
    details = None
    if stay.lot_id is None:  # its payments hold what the stay got; this refund is already out
        paid = await uow.payments.held_for_stay(stay.ref) + refund.amount_fen
    else:
        details = await uow.lots.lot_stay(stay.id)
        if details is None:
            return
        paid = details.paid_fen
        details.paid_fen -= refund.amount_fen
    if paid < refund.amount_fen:  # the stay's record lost a payment: the refund still lands
        log.error("stay %s held %s fen, refund %s took more", stay.ref, paid, refund.out_refund_no)
        paid = refund.amount_fen
    fee = stay.fee_fen or 0
    _, corrected = payments.split_stay_refund(refund.amount_fen, fee, paid)
    if corrected:
        stay.fee_fen = fee - corrected
        quote = dict(stay.quote or {})
        made = {"out_refund_no": refund.out_refund_no, "fen": corrected}
        quote["refund_corrections"] = [*quote.get("refund_corrections", []), made]
        stay.quote = quote
        subject = receivable_subject(stay, details)
        reversal = stay_charge_reversed(stay.ref, subject, payment.operator_code, corrected)
        await uow.ledger.post(reversal, clock.now())


async def refund_overpayment(uow: UnitOfWork, clock: Clock, stay_ref: str, fee_fen: int) -> None:
    """A paid stay re-priced lower, voided, waived or paid twice over: record refunds of what its
    payments hold beyond the fee, newest payment first, for the payment sweep to send (device
    paths never call the provider)."""
    excess = await uow.payments.held_for_stay(stay_ref, less_leaving=True) - fee_fen
    if excess <= 0:
        return
    now = clock.now()
    for payment in reversed(await uow.payments.for_stay(stay_ref)):
        in_flight = await uow.payments.in_flight_fen(payment.out_trade_no)
        take = min(excess, payments.refundable_fen(payment, in_flight))
        if take <= 0:
            continue
        try:
            payments.check_refund(payment, take, in_flight, now)
        except DomainError as exc:  # past a year: a manual payout, which finance must see
            log.error("%s cannot give back %s fen: %s", payment.out_trade_no, take, exc.detail)
            continue
        await uow.payments.add_refund(_overpaid_refund(payment, take, now))
        await uow.payments.save(payment)  # bumps its version: a concurrent refund re-checks
        excess -= take
        if excess == 0:
            break
    if excess:
        log.error("stay %s holds %s fen beyond its fee that no refund can return", stay_ref, excess)


def _overpaid_refund(payment: Payment, amount_fen: int, now: datetime) -> Refund:
    return Refund(
        out_refund_no=payments.new_out_refund_no(now),
        out_trade_no=payment.out_trade_no,
        amount_fen=amount_fen,
        reason=OVERPAID_REASON,
        requested_by=OVERPAID_ACTOR,
        status=RefundStatus.REQUESTED,
        created_at=now,
    )


async def submit_and_tell(
    uows: Uows,
    clock: Clock,
    gateway: PaymentGateway,
    notifier: DriverNotifier,
    notify_url: str,
    out_refund_no: str,
) -> None:
    """Send an automatic refund and tell the payer; failures are logged for the retry sweep."""
    try:
        refund = await submit_refund(uows, clock, gateway, notify_url, out_refund_no)
    except DomainError as exc:
        log.error("automatic refund %s not accepted yet: %s", out_refund_no, exc.detail)
        return
    async with uows() as uow:
        payment = await _payment(uow, refund.out_trade_no)
    message = DriverMessage(
        appid=payment.appid,
        openid=payment.payer_openid,
        kind=DUPLICATE_REFUNDED,
        fields={
            "amount": f"{format_yuan(refund.amount_fen)}元",
            "plate": payment.plate,
            "out_trade_no": payment.out_trade_no,
            "reason": refund.reason,
        },
        page=f"pages/payments/detail?out_trade_no={payment.out_trade_no}",
    )
    if not await notifier.notify(message):
        log.info("payer of %s not told about refund %s", payment.out_trade_no, out_refund_no)


async def resubmit_requested(
    uows: Uows, clock: Clock, gateway: PaymentGateway, notify_url: str
) -> list[Refund]:
    """Send again every refund recorded but not yet accepted by the provider."""
    async with uows() as uow:
        waiting = await uow.payments.refunds_in(RefundStatus.REQUESTED)
    sent = []
    for refund in waiting:
        try:
            sent.append(await submit_refund(uows, clock, gateway, notify_url, refund.out_refund_no))
        except DomainError as exc:
            log.warning("refund %s still not accepted: %s", refund.out_refund_no, exc.detail)
    return sent


async def _end(uows: Uows, out_refund_no: str, status: RefundStatus) -> None:
    async with uows() as uow:
        refund = await _refund(uow, out_refund_no, for_update=True)
        transition = payments.refund_ended(refund, status)
        if transition.changed:
            await uow.payments.save_refund(transition.state)
            payment = await _payment(uow, refund.out_trade_no)
            await pass_sales.release_refund(uow, payment, refund.amount_fen)
            await uow.commit()


async def _payment(uow: UnitOfWork, out_trade_no: str, *, for_update: bool = False) -> Payment:
    payment = await uow.payments.get(out_trade_no, for_update=for_update)
    if payment is None:
        raise PaymentNotFoundError(detail=out_trade_no)
    return payment


async def _refund(uow: UnitOfWork, out_refund_no: str, *, for_update: bool = False) -> Refund:
    refund = await uow.payments.get_refund(out_refund_no, for_update=for_update)
    if refund is None:
        raise RefundNotFoundError(detail=out_refund_no)
    return refund
