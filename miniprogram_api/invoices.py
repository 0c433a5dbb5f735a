"""A driver's invoices: what can be invoiced (and merged), requests, status, file, email."""

from __future__ import annotations

import logging
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field

from core.errors import DomainError, NotFoundError, ValidationFailedError
from core.invoices import (
    Candidate,
    Invoice,
    InvoiceNotFoundError,
    check_email,
    check_title,
)
from core.mail import OutgoingMail
from core.money import format_yuan as yuan
from core.payment_gateway import NotifyRejectedError
from core.services.invoice_sweep import advance
from core.services.invoices import (
    MAX_MERGED,
    driver_invoice,
    list_invoiceable,
    request_invoice,
)
from miniprogram_api.invoice_titles import TitleIn, fapiao, save_title_for, wechat_title
from miniprogram_api.payments import uows_of
from miniprogram_api.session import current_driver
from server.http import ApiRoutes, json_response
from server.invoicing import invoice_providers, mail_sender
from server.resources import clock, read_unit_of_work

log = logging.getLogger(__name__)

routes = ApiRoutes("miniprogram")


class InvoiceIn(BaseModel):
    """One invoice over payments of one seller; one key per tap (a repeat returns the same).

    The buyer is `title`, or the one chosen in WeChat's picker for `wechat_title_apply_id`
    (from POST /me/invoices/title-url)."""

    out_trade_nos: list[str] = Field(min_length=1, max_length=MAX_MERGED)
    title: TitleIn | None = None
    wechat_title_apply_id: str | None = Field(None, pattern=r"^IV[0-9]{24}$")
    save_title: bool = False
    idempotency_key: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")


class InvoiceableOut(BaseModel):
    """A paid payment and what of it can still be invoiced."""

    out_trade_no: str
    purpose: str
    plate: str
    paid_fen: int
    invoiceable_fen: int
    kind: str = Field(description="digital_vat, prepaid or fiscal_receipt")
    seller: str = Field(description="the operator that received the payment")
    paid_at: datetime | None


class MergeGroupOut(BaseModel):
    """Payments that may go on one invoice together (one seller, one kind)."""

    seller: str
    kind: str
    out_trade_nos: list[str]
    total_fen: int


class InvoiceLineOut(BaseModel):
    out_trade_no: str
    amount_fen: int


class InvoiceOut(BaseModel):
    """An invoice and where it is."""

    invoice_no: str
    kind: str = Field(description="digital_vat (数电票), prepaid (不征税) or fiscal_receipt")
    status: str = Field(description="requested, issuing, issued, failed, reversing or reversed")
    amount_fen: int
    seller: str
    title_kind: str
    title_name: str
    tax_id: str | None
    lines: list[InvoiceLineOut]
    document_code: str | None
    document_number: str | None
    check_code: str | None
    issued_at: datetime | None
    reversed_at: datetime | None
    replaces: str | None
    created_at: datetime


class MyInvoicesOut(BaseModel):
    """What can be invoiced, how it can merge, and the invoices asked for."""

    invoiceable: list[InvoiceableOut]
    merge_groups: list[MergeGroupOut]
    invoices: list[InvoiceOut]


def invoice_out(invoice: Invoice) -> InvoiceOut:
    """The driver's (and staff's) view of an invoice."""
    return InvoiceOut(
        invoice_no=invoice.invoice_no,
        kind=invoice.kind.value,
        status=invoice.status.value,
        amount_fen=invoice.amount_fen,
        seller=invoice.operator_code,
        title_kind=invoice.title.kind.value,
        title_name=invoice.title.name,
        tax_id=invoice.title.tax_id,
        lines=[
            InvoiceLineOut(out_trade_no=x.out_trade_no, amount_fen=x.amount_fen)
            for x in invoice.lines
        ],
        document_code=invoice.document_code,
        document_number=invoice.document_number,
        check_code=invoice.check_code,
        issued_at=invoice.issued_at,
        reversed_at=invoice.reversed_at,
        replaces=invoice.replaces,
        created_at=invoice.created_at,
    )


def _invoiceable_out(found: Candidate) -> InvoiceableOut:
    p = found.payment
    return InvoiceableOut(
        out_trade_no=p.out_trade_no,
        purpose=p.purpose.value,
        plate=p.plate,
        paid_fen=p.amount_fen - p.refunded_fen,
        invoiceable_fen=found.amount_fen,
        kind=found.kind.value,
        seller=p.operator_code,
        paid_at=p.paid_at,
    )


@routes.route(
    "GET",
    "/me/invoices",
    "Payments that can be invoiced, how they merge, and the driver's invoices (driver token)",
    response=MyInvoicesOut,
)
async def my_invoices(request: web.Request, _: None) -> web.Response:
    """List invoiceable payments grouped by seller, and every invoice asked for."""
    driver_id = current_driver(request)
    async with read_unit_of_work(request) as uow:
        found = await list_invoiceable(uow, driver_id)
        asked = await uow.invoices.of_driver(driver_id)
    groups = [
        MergeGroupOut(
            seller=group[0].payment.operator_code,
            kind=group[0].kind.value,
            out_trade_nos=[c.payment.out_trade_no for c in group],
            total_fen=sum(c.amount_fen for c in group),
        )
        for group in found.groups().values()
    ]
    body = MyInvoicesOut(
        invoiceable=[_invoiceable_out(c) for c in found.candidates],
        merge_groups=groups,
        invoices=[invoice_out(i) for i in asked],
    )
    return json_response(body)


@routes.route(
    "POST",
    "/me/invoices",
    "Ask for one invoice over payments of one seller (driver token); issued asynchronously",
    body=InvoiceIn,
    response=InvoiceOut,
)
async def ask_invoice(request: web.Request, body: InvoiceIn) -> web.Response:
    """Record the request; the sweep sends it to the seller's provider."""
    driver_id = current_driver(request)
    if (body.title is None) == (body.wechat_title_apply_id is None):
        raise ValidationFailedError("请填写发票抬头，或在微信中选择", detail="title")
    apply_id = body.wechat_title_apply_id
    if body.title is not None:
        title = check_title(body.title.title())
    else:
        assert apply_id is not None
        title = check_title(await wechat_title(request, body.out_trade_nos[0], apply_id))
    invoice = await request_invoice(
        uows_of(request),
        clock(request),
        invoice_providers(request),
        driver_id=driver_id,
        out_trade_nos=body.out_trade_nos,
        title=title,
        idempotency_key=body.idempotency_key,
        invoice_no=apply_id,
    )
    if body.save_title:
        await save_title_for(request, driver_id, title)
    return json_response(invoice_out(invoice))


@routes.route(
    "GET",
    "/me/invoices/{invoice_no}",
    "One of the driver's invoices and its state (driver token)",
    response=InvoiceOut,
)
async def show_invoice(request: web.Request, _: None) -> web.Response:
    """Answer the invoice; another driver's is not found."""
    driver_id = current_driver(request)
    async with read_unit_of_work(request) as uow:
        invoice = await driver_invoice(uow, driver_id, request.match_info["invoice_no"])
    return json_response(invoice_out(invoice))


@routes.route(
    "GET",
    "/me/invoices/{invoice_no}/file",
    "The issued invoice's PDF (driver token)",
)
async def invoice_file(request: web.Request, _: None) -> web.Response:
    """Fetch the file from the provider (its links expire) and hand it over."""
    driver_id = current_driver(request)
    async with read_unit_of_work(request) as uow:
        invoice = await driver_invoice(uow, driver_id, request.match_info["invoice_no"])
    if invoice.issued_at is None:
        raise NotFoundError("发票尚未开具", detail=f"{invoice.invoice_no} is {invoice.status}")
    pdf = await invoice_providers(request).for_kind(invoice.kind).download(invoice)
    disposition = f'attachment; filename="{invoice.invoice_no}.pdf"'
    return web.Response(
        body=pdf, content_type="application/pdf", headers={"Content-Disposition": disposition}
    )


class EmailIn(BaseModel):
    """Where to send the file; the title's email when left out."""

    email: str | None = Field(None, max_length=254)


class EmailedOut(BaseModel):
    sent_to: str


@routes.route(
    "POST",
    "/me/invoices/{invoice_no}/email",
    "Send the issued invoice's PDF by email (driver token)",
    body=EmailIn,
    response=EmailedOut,
)
async def email_invoice(request: web.Request, body: EmailIn) -> web.Response:
    """Fetch the file and mail it to the given address or the title's."""
    driver_id = current_driver(request)
    async with read_unit_of_work(request) as uow:
        invoice = await driver_invoice(uow, driver_id, request.match_info["invoice_no"])
    to = check_email(body.email or invoice.title.email or "")
    if invoice.issued_at is None:
        raise NotFoundError("发票尚未开具", detail=f"{invoice.invoice_no} is {invoice.status}")
    sender = mail_sender(request)
    pdf = await invoice_providers(request).for_kind(invoice.kind).download(invoice)
    mail = OutgoingMail(
        to=to,
        subject=f"电子发票 {invoice.document_number or invoice.invoice_no}",
        text=f"您好，附件是您申请的发票（{yuan(invoice.amount_fen)}）。",
        attachment_name=f"{invoice.invoice_no}.pdf",
        attachment=pdf,
    )
    await sender.send(mail)
    return json_response(EmailedOut(sent_to=to))


@routes.route(
    "POST",
    "/wechatpay/fapiao-notify",
    "WeChat Pay FAPIAO.* notifications (signed, AES-GCM encrypted)",
    status=204,
)
async def fapiao_notify(request: web.Request, _: None) -> web.StreamResponse:
    """Verify the notify, then ask WeChat Pay where the application is and apply that."""
    adapter = fapiao(request)
    try:
        apply_id = await adapter.parse_notice(request.headers, await request.read())
    except NotifyRejectedError as exc:
        log.warning("rejected a fapiao notification: %s", exc.detail)
        return _fail(401, "验签失败")
    try:
        async with read_unit_of_work(request) as uow:
            invoice = await uow.invoices.get(apply_id)
        if invoice is None:
            raise InvoiceNotFoundError(detail=apply_id)
        await advance(uows_of(request), clock(request), invoice_providers(request), invoice)
    except DomainError as exc:
        # Answering a failure makes WeChat Pay deliver the notification again later.
        log.warning("fapiao notification not applied: %s %s", exc.code, exc.detail)
        return _fail(500 if exc.status < 500 else exc.status, exc.message_zh)
    return web.Response(status=204)


def _fail(status: int, message: str) -> web.Response:
    """The failure answer WeChat Pay documents: an error status and {code: FAIL, message}."""
    return web.json_response({"code": "FAIL", "message": message}, status=status)
