"""The issuing sweep: send requested invoices, poll those at the provider, carry out reversals."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from functools import partial

from core import invoices
from core.clock import Clock
from core.errors import DomainError
from core.invoice_provider import InvoiceProviders, ProviderReport, ProviderState
from core.invoices import Invoice, InvoiceStatus
from core.services.invoices import REFUND_REASON, update_invoice
from core.services.retrying import Uows

log = logging.getLogger(__name__)


async def sweep_invoices(uows: Uows, clock: Clock, providers: InvoiceProviders) -> int:
    """One round over the invoices due now; how many were moved on."""
    async with uows() as uow:
        due = await uow.invoices.due(clock.now())
    moved = 0
    for invoice in due:
        try:
            moved += await advance(uows, clock, providers, invoice)
        except DomainError as exc:
            log.warning("invoice %s not advanced: %s %s", invoice.invoice_no, exc.code, exc.detail)
    return moved


async def advance(uows: Uows, clock: Clock, providers: InvoiceProviders, invoice: Invoice) -> int:
    """Take one invoice a step: issue, query or reverse at its provider; 1 if it was sent."""
    provider = providers.for_kind(invoice.kind)
    if invoice.status in (InvoiceStatus.REQUESTED, InvoiceStatus.FAILED):
        if invoice.replaces is not None and not await _replaced_is_reversed(uows, invoice):
            return 0  # the reissue waits for the red-letter reversal of what it replaces
        claimed = await update_invoice(
            uows, clock, invoice.invoice_no, partial(_claim, clock), "invoice.issuing"
        )
        openid = await _payer_openid(uows, claimed)
        report = await _ask(provider.issue(claimed, openid))
    elif invoice.status is InvoiceStatus.ISSUING:
        report = await _ask(provider.query(invoice))
    elif invoice.status is InvoiceStatus.REVERSING:
        report = await _ask(provider.reverse(invoice, REFUND_REASON), reversing=True)
    else:
        return 0
    change = partial(apply_report, clock, report)
    await update_invoice(uows, clock, invoice.invoice_no, change, f"invoice.{report.state.value}")
    return 1


def _claim(clock: Clock, invoice: Invoice) -> Invoice:
    return invoices.start_issuing(invoice, clock.now())


async def _ask(call: Awaitable[ProviderReport], *, reversing: bool = False) -> ProviderReport:
    """Await a provider call; a fault is a failed issue (retried) or a reversal still owed."""
    try:
        return await call
    except DomainError as exc:
        state = ProviderState.REVERSING if reversing else ProviderState.FAILED
        return ProviderReport(state, reason=f"{exc.code}: {exc.detail}"[:200])


def apply_report(clock: Clock, report: ProviderReport, invoice: Invoice) -> Invoice:
    """The invoice after the provider's report."""
    now = clock.now()
    if report.state is ProviderState.ISSUED and report.document is not None:
        return invoices.mark_issued(invoice, report.document)
    if report.state is ProviderState.FAILED:
        return invoices.mark_failed(invoice, report.reason or "provider failed", now)
    if report.state is ProviderState.REVERSED:
        return invoices.mark_reversed(invoice, now)
    return invoices.still_waiting(invoice, now)


async def _replaced_is_reversed(uows: Uows, invoice: Invoice) -> bool:
    async with uows() as uow:
        original = await uow.invoices.get(invoice.replaces or "")
    return original is None or original.status is InvoiceStatus.REVERSED


async def _payer_openid(uows: Uows, invoice: Invoice) -> str:
    async with uows() as uow:
        payment = await uow.payments.get(invoice.lines[0].out_trade_no)
    return payment.payer_openid if payment is not None else ""
