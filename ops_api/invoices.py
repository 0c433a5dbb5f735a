"""Staff routes for invoices (finance): list, export CSV, daily totals, retry, reverse."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta

from aiohttp import web
from pydantic import BaseModel, Field

from core.errors import ValidationFailedError
from core.invoices import Invoice, InvoiceStatus
from core.payments import SHANGHAI
from core.services.invoices import retry_invoice, reverse_invoice
from core.staff import Permission, covers
from miniprogram_api.invoices import InvoiceOut, invoice_out
from miniprogram_api.payments import uows_of
from ops_api.auth import acting_staff
from server.http import ApiRoutes, json_response
from server.resources import clock, read_unit_of_work

routes = ApiRoutes("ops")

_STATUSES = "requested|issuing|issued|failed|reversing|reversed"


class InvoiceQuery(BaseModel):
    """Filters of the invoice list; pages by id."""

    status: str | None = Field(None, pattern=f"^({_STATUSES})$")
    sub_mchid: str | None = Field(None, max_length=32, pattern=r"^[0-9]+$")
    after_id: int = Field(0, ge=0, le=2**31 - 1)  # ids are 32-bit integers
    limit: int = Field(50, ge=1, le=500)


class StaffInvoiceOut(BaseModel):
    """An invoice with its seller's sub-merchant and the provider's last failure."""

    id: int
    sub_mchid: str
    attempts: int
    failure: str | None
    next_try_at: datetime | None
    invoice: InvoiceOut


class StaffInvoicesOut(BaseModel):
    invoices: list[StaffInvoiceOut]
    next_after_id: int | None


class ReverseIn(BaseModel):
    """Why the invoice is reversed (audited), e.g. a wrong title."""

    reason: str = Field(min_length=2, max_length=200)


class DayQuery(BaseModel):
    day: date


class DayTotalOut(BaseModel):
    """Fen invoiced on a day (Asia/Shanghai) by state, to set beside the day's payments."""

    day: date
    issued_fen: int
    reversed_fen: int
    pending_fen: int
    failed_fen: int


def _staff_out(row_id: int, invoice: Invoice) -> StaffInvoiceOut:
    return StaffInvoiceOut(
        id=row_id,
        sub_mchid=invoice.sub_mchid,
        attempts=invoice.attempts,
        failure=invoice.failure,
        next_try_at=invoice.next_try_at,
        invoice=invoice_out(invoice),
    )


@routes.route(
    "GET",
    "/invoices",
    "Invoices and fiscal e-receipts, filtered by state and seller",
    query=InvoiceQuery,
    response=StaffInvoicesOut,
    permission=Permission.INVOICES_MANAGE,
)
async def list_invoices(request: web.Request, query: InvoiceQuery) -> web.Response:
    """A page of invoices, oldest first from after_id."""
    status = InvoiceStatus(query.status) if query.status else None
    async with read_unit_of_work(request) as uow:
        found = await uow.invoices.listed(
            status=status, sub_mchid=query.sub_mchid, limit=query.limit, after_id=query.after_id
        )
    scope = acting_staff(request).scope
    # A scoped account sees its operators' invoices only; paging stays on the unfiltered ids.
    page = [_staff_out(i, v) for i, v in found if covers(scope, operator_code=v.operator_code)]
    next_after = found[-1][0] if len(found) == query.limit else None
    return json_response(StaffInvoicesOut(invoices=page, next_after_id=next_after))


@routes.route(
    "GET",
    "/invoices/export",
    "Invoices as CSV (UTF-8 with BOM, for Excel), filtered like the list",
    query=InvoiceQuery,
    permission=Permission.INVOICES_MANAGE,
)
async def export_invoices(request: web.Request, query: InvoiceQuery) -> web.Response:
    """One CSV row per invoice line."""
    status = InvoiceStatus(query.status) if query.status else None
    async with read_unit_of_work(request) as uow:
        found = await uow.invoices.listed(
            status=status, sub_mchid=query.sub_mchid, limit=query.limit, after_id=query.after_id
        )
    scope = acting_staff(request).scope
    found = [(i, v) for i, v in found if covers(scope, operator_code=v.operator_code)]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["invoice_no", "kind", "status", "sub_mchid", "seller", "buyer", "tax_id",
         "out_trade_no", "amount_fen", "document_number", "issued_at", "reversed_at"]
    )  # fmt: skip
    for _, v in found:
        for line in v.lines:
            writer.writerow(
                [v.invoice_no, v.kind.value, v.status.value, v.sub_mchid, v.operator_code,
                 v.title.name, v.title.tax_id or "", line.out_trade_no, line.amount_fen,
                 v.document_number or "", v.issued_at.isoformat() if v.issued_at else "",
                 v.reversed_at.isoformat() if v.reversed_at else ""]
            )  # fmt: skip
    return web.Response(
        body=("\ufeff" + out.getvalue()).encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
    )


@routes.route(
    "GET",
    "/invoices/daily-total",
    "Fen invoiced on one day by state (to reconcile with that day's payments)",
    query=DayQuery,
    response=DayTotalOut,
    permission=Permission.INVOICES_MANAGE,
)
async def daily_total(request: web.Request, query: DayQuery) -> web.Response:
    """Sum the invoices created on the day: issued, reversed, still pending, failed."""
    if not date(2000, 1, 1) <= query.day <= date(2999, 12, 31):
        raise ValidationFailedError("日期超出范围", detail="day")
    start = datetime.combine(query.day, time(), SHANGHAI)
    async with read_unit_of_work(request) as uow:
        scope = acting_staff(request).scope
        mine = None if scope.city_wide else scope.operators  # district and lot scopes: none
        totals = await uow.invoices.totals_between(start, start + timedelta(days=1), operators=mine)
    pending = sum(totals.get(s, 0) for s in (InvoiceStatus.REQUESTED, InvoiceStatus.ISSUING))
    body = DayTotalOut(
        day=query.day,
        issued_fen=totals.get(InvoiceStatus.ISSUED, 0),
        reversed_fen=sum(
            totals.get(s, 0) for s in (InvoiceStatus.REVERSING, InvoiceStatus.REVERSED)
        ),
        pending_fen=pending,
        failed_fen=totals.get(InvoiceStatus.FAILED, 0),
    )
    return json_response(body)


@routes.route(
    "POST",
    "/invoices/{invoice_no}/retry",
    "Try a failed invoice again now (audited)",
    response=StaffInvoiceOut,
    permission=Permission.INVOICES_MANAGE,
)
async def retry(request: web.Request, _: None) -> web.Response:
    """Put a failed invoice back in the sweep's queue at once."""
    actor = acting_staff(request)
    no = request.match_info["invoice_no"]
    invoice = await retry_invoice(uows_of(request), clock(request), actor, no)
    return await _answer(request, invoice)


@routes.route(
    "POST",
    "/invoices/{invoice_no}/reverse",
    "Reverse an issued invoice (红冲) with a reason (audited); its payments can be invoiced again",
    body=ReverseIn,
    response=StaffInvoiceOut,
    permission=Permission.INVOICES_MANAGE,
)
async def reverse(request: web.Request, body: ReverseIn) -> web.Response:
    """Owe the red-letter reversal; the sweep carries it out at the provider."""
    actor = acting_staff(request)
    invoice = await reverse_invoice(
        uows_of(request), clock(request), actor, request.match_info["invoice_no"], body.reason
    )
    return await _answer(request, invoice)


async def _answer(request: web.Request, invoice: Invoice) -> web.Response:
    async with read_unit_of_work(request) as uow:
        row_id = await uow.invoices.id_of(invoice.invoice_no)
    return json_response(_staff_out(row_id, invoice))
