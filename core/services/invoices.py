"""Use cases of invoices: what a driver may invoice, requests, refunds' reversals, staff retries."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from core import invoices
from core.clock import Clock
from core.errors import PermissionDeniedError, ValidationFailedError
from core.invoice_provider import InvoiceProviders
from core.invoices import (
    BuyerTitle,
    Candidate,
    Invoice,
    InvoiceNotFoundError,
    InvoiceStatus,
    NotInvoiceableError,
)
from core.payments import Payment, PaymentNotFoundError
from core.services import audit
from core.services.retrying import Uows, retrying
from core.staff import StaffIdentity, covers
from core.store.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

MAX_MERGED = 50
REFUND_REASON = "退款后红冲"


@dataclass(frozen=True, slots=True)
class Invoiceable:
    """A driver's payments still to invoice, grouped by seller: those of one group merge."""

    candidates: list[Candidate]

    def groups(self) -> dict[str, list[Candidate]]:
        """Candidates by seller sub-merchant and document kind."""
        found: dict[str, list[Candidate]] = {}
        for candidate in self.candidates:
            key = f"{candidate.payment.sub_mchid}:{candidate.kind.value}"
            found.setdefault(key, []).append(candidate)
        return found


async def candidate(uow: UnitOfWork, payment: Payment) -> Candidate:
    """A payment with what is left to invoice of it and its seller's kind of document."""
    in_flight = await uow.payments.in_flight_fen(payment.out_trade_no)
    fiscal = await uow.invoices.fiscal_seller(payment.sub_mchid)
    return Candidate(
        payment,
        invoices.invoiceable_fen(payment, in_flight),
        invoices.kind_for(payment, fiscal_seller=fiscal),
    )


async def list_invoiceable(uow: UnitOfWork, driver_id: int) -> Invoiceable:
    """The driver's paid payments that no live invoice holds and that have money left."""
    settled = await uow.invoices.settled_payments(driver_id)
    held = await uow.invoices.live_trade_nos([p.out_trade_no for p in settled])
    found = [await candidate(uow, p) for p in settled if p.out_trade_no not in held]
    return Invoiceable([c for c in found if c.amount_fen > 0])


async def request_invoice(
    uows: Uows,
    clock: Clock,
    providers: InvoiceProviders,
    *,
    driver_id: int,
    out_trade_nos: Sequence[str],
    title: BuyerTitle,
    idempotency_key: str,
    invoice_no: str | None = None,
) -> Invoice:
    """Record one invoice over the payments (one seller); the sweep sends it to the provider."""
    numbers = list(dict.fromkeys(out_trade_nos))
    if not 1 <= len(numbers) <= MAX_MERGED:
        raise ValidationFailedError(f"每张发票可合并1至{MAX_MERGED}笔支付", detail="out_trade_nos")
    key = f"{driver_id}:{idempotency_key}"
    async with uows() as uow:
        earlier = await uow.invoices.by_idempotency_key(key)
        if earlier is not None:
            return earlier
        await uow.payments.lock_for_write()
        candidates = await check_request(uow, driver_id, numbers)
        number = invoice_no or invoices.new_invoice_no(clock.now())
        invoice = invoices.plan_invoice(number, driver_id, title, candidates, clock.now())
        providers.for_kind(invoice.kind)  # 503 before anything is written when none issues it
        await uow.invoices.add(invoice, idempotency_key=key)
        await audit.record(
            uow,
            clock,
            f"driver:{driver_id}",
            "invoice.request",
            invoice.invoice_no,
            "开票申请",
            {
                "out_trade_nos": numbers,
                "amount_fen": invoice.amount_fen,
                "kind": invoice.kind.value,
            },
        )
        await uow.commit()
        return invoice


async def check_request(uow: UnitOfWork, driver_id: int, numbers: list[str]) -> list[Candidate]:
    """The driver's payments to invoice together, each with money left and on no live invoice."""
    candidates = [await _own_candidate(uow, driver_id, no) for no in numbers]
    held = await uow.invoices.live_trade_nos(numbers)
    if held:
        raise NotInvoiceableError("该支付单已开票", detail=f"invoiced: {', '.join(sorted(held))}")
    invoices.check_merge(candidates)
    return candidates


async def _own_candidate(uow: UnitOfWork, driver_id: int, out_trade_no: str) -> Candidate:
    payment = await uow.payments.get(out_trade_no)
    if payment is None or await uow.payments.driver_of(out_trade_no) != driver_id:
        # Someone else's payment is answered like a missing one: numbers are not probed.
        raise PaymentNotFoundError(detail=f"{out_trade_no} for driver {driver_id}")
    found = await candidate(uow, payment)
    if found.amount_fen <= 0:
        raise NotInvoiceableError(detail=f"{out_trade_no} is {payment.status.value}")
    return found


async def driver_invoice(uow: UnitOfWork, driver_id: int, invoice_no: str) -> Invoice:
    """One of the driver's invoices; another driver's is not found."""
    invoice = await uow.invoices.get(invoice_no)
    if invoice is None or invoice.driver_id != driver_id:
        raise InvoiceNotFoundError(detail=f"{invoice_no} for driver {driver_id}")
    return invoice


async def after_refund(uow: UnitOfWork, clock: Clock, payment: Payment) -> None:
    """In the refund's transaction: reverse the invoice holding the payment, reissue the rest."""
    invoice = await uow.invoices.holding(payment.out_trade_no)
    if invoice is not None:
        await _settle_excess(uow, clock, invoice, {payment.out_trade_no: payment})


async def _settle_excess(
    uow: UnitOfWork, clock: Clock, invoice: Invoice, known: dict[str, Payment]
) -> None:
    left: dict[str, int] = {}
    for line in invoice.lines:
        payment = known.get(line.out_trade_no) or await uow.payments.get(line.out_trade_no)
        left[line.out_trade_no] = (await candidate(uow, payment)).amount_fen if payment else 0
    outcome = invoices.on_refund(invoice, left, invoices.new_invoice_no(clock.now()), clock.now())
    if outcome.invoice is invoice:
        return
    await uow.invoices.save(outcome.invoice)
    if outcome.reissue is not None:
        await uow.invoices.add(outcome.reissue, idempotency_key=None)
    details = {"reissue": outcome.reissue.invoice_no if outcome.reissue else None}
    await audit.record(
        uow,
        clock,
        "system:invoices",
        f"invoice.{outcome.invoice.status.value}",
        invoice.invoice_no,
        REFUND_REASON,
        details,
    )


async def update_invoice(
    uows: Uows, clock: Clock, invoice_no: str, change: invoices.InvoiceChange, action: str
) -> Invoice:
    """Apply one change to an invoice in its own transaction, audited; again on a conflict."""

    async def attempt() -> Invoice:
        async with uows() as uow:
            await uow.payments.lock_for_write()
            invoice = await uow.invoices.get(invoice_no)
            if invoice is None:
                raise InvoiceNotFoundError(detail=invoice_no)
            after = change(invoice)
            if after == invoice:
                return invoice
            await uow.invoices.save(after)
            if after.status in (InvoiceStatus.ISSUED, InvoiceStatus.FAILED):
                # A refund that came while the provider was issuing: reverse or withdraw now.
                await _settle_excess(uow, clock, after, {})
            if after.status is not invoice.status:  # a poll that changes nothing is not audited
                reason = after.failure or after.status.value
                await audit.record(uow, clock, "system:invoices", action, invoice_no, reason)
            await uow.commit()
            return after

    return await retrying(attempt)


async def retry_invoice(uows: Uows, clock: Clock, actor: StaffIdentity, invoice_no: str) -> Invoice:
    """Finance asks for a failed invoice to be tried again now; audited."""

    async def attempt() -> Invoice:
        async with uows() as uow:
            invoice = await uow.invoices.get(invoice_no)
            if invoice is None:
                raise InvoiceNotFoundError(detail=invoice_no)
            _check_scope(actor, invoice)
            after = invoices.retry_now(invoice, clock.now())
            await uow.invoices.save(after)
            await audit.record(uow, clock, actor, "invoice.retry", invoice_no, "财务重试开票")
            await uow.commit()
            return after

    return await retrying(attempt)


async def reverse_invoice(
    uows: Uows, clock: Clock, actor: StaffIdentity, invoice_no: str, reason: str
) -> Invoice:
    """Finance reverses an issued invoice (红冲), e.g. a wrong title; the payments free again."""

    async def attempt() -> Invoice:
        async with uows() as uow:
            invoice = await uow.invoices.get(invoice_no)
            if invoice is None:
                raise InvoiceNotFoundError(detail=invoice_no)
            _check_scope(actor, invoice)
            after = invoices.owe_reversal(invoice, clock.now())
            await uow.invoices.save(after)
            await audit.record(uow, clock, actor, "invoice.reverse", invoice_no, reason)
            await uow.commit()
            return after

    return await retrying(attempt)


def _check_scope(actor: StaffIdentity, invoice: Invoice) -> None:
    if not covers(actor.scope, operator_code=invoice.operator_code):
        raise PermissionDeniedError(detail=f"{actor.actor} does not cover {invoice.invoice_no}")
