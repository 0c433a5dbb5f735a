"""Invoices of payments: who may be invoiced for how much, buyer titles, states and reversals."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from core.errors import ConflictError, DomainError, NotFoundError, ValidationFailedError
from core.payments import Payment, PaymentPurpose, PaymentStatus

# Spending stored value is not invoiced again: its top-up got the (prepaid) invoice.
NOT_INVOICED_CHANNELS = frozenset({"stored_value"})

# The last automatic try of a failed issue; after it finance sees the reason and retries by hand.
MAX_ATTEMPTS = 5
FIRST_BACKOFF = timedelta(minutes=1)
# How long to wait before asking the provider again about an application it is working on.
POLL_AFTER = timedelta(seconds=30)


class InvoiceKind(StrEnum):
    """What document the seller issues."""

    DIGITAL_VAT = "digital_vat"  # 数电票: a fully digitalised VAT e-invoice
    PREPAID = "prepaid"  # 数电票 for a stored-value top-up, tax marked 不征税
    FISCAL_RECEIPT = "fiscal_receipt"  # 财政电子票据: on-street fees as non-tax revenue


class InvoiceStatus(StrEnum):
    """requested -> issuing -> issued | failed; issued -> reversing -> reversed."""

    REQUESTED = "requested"  # recorded, not yet sent to the provider
    ISSUING = "issuing"  # the provider accepted the application and is issuing
    ISSUED = "issued"
    FAILED = "failed"  # the provider refused; retried with back-off
    REVERSING = "reversing"  # a red-letter reversal (红冲) is owed or under way
    REVERSED = "reversed"


# An invoice in these holds its payments: none of them may be invoiced again.
HOLDING = frozenset(
    {InvoiceStatus.REQUESTED, InvoiceStatus.ISSUING, InvoiceStatus.ISSUED, InvoiceStatus.FAILED}
)


class TitleKind(StrEnum):
    """Whom the invoice names as buyer."""

    PERSONAL = "personal"
    COMPANY = "company"


class InvoiceNotFoundError(NotFoundError):
    """No invoice of this driver has this number."""

    code = "invoice_not_found"
    message_zh = "发票申请不存在"


class NotInvoiceableError(ConflictError):
    """The payment is unpaid, fully refunded, already invoiced or spent from stored value."""

    code = "not_invoiceable"
    message_zh = "该支付单不能开票"


class MixedSellersError(ValidationFailedError):
    """Only payments to one seller (sub-merchant) merge into one invoice."""

    code = "mixed_sellers"
    message_zh = "不同收款单位的支付单不能合并开票"


class InvalidTaxIdError(ValidationFailedError):
    """A company title needs a valid 统一社会信用代码 or an old tax number."""

    code = "invalid_tax_id"
    message_zh = "纳税人识别号（统一社会信用代码）不正确"


class InvoiceStateError(ConflictError):
    """The invoice is not in a state that allows this."""

    code = "invoice_state"
    message_zh = "发票当前状态不允许此操作"


class TitleNotChosenError(ConflictError):
    """WeChat's title picker has no title for this application yet."""

    code = "title_not_chosen"
    message_zh = "请先在微信中选择发票抬头"


class InvoiceProviderNotConfiguredError(DomainError):
    """No invoicing provider is configured for this kind of document."""

    code = "invoicing_not_configured"
    status = 503
    message_zh = "开票服务暂未开通，请稍后再试"


# GB 32100-2015: 18 characters from this alphabet (no I, O, S, V, Z), the last a check character.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_OLD_TAX_ID = re.compile(r"^(?:[0-9A-Z]{15}|[0-9A-Z]{17}|[0-9A-Z]{20})$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[A-Za-z]{2,}$")


def uscc_check_char(first17: str) -> str:
    """The GB 32100-2015 check character of the first 17 characters of a 统一社会信用代码."""
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def valid_tax_id(tax_id: str) -> bool:
    """An 18-character code with a right check character, or an old 15/17/20-character number."""
    if len(tax_id) == 18:
        if any(c not in _USCC_ALPHABET for c in tax_id):
            return False
        return uscc_check_char(tax_id[:17]) == tax_id[17]
    return bool(_OLD_TAX_ID.match(tax_id))


@dataclass(frozen=True, slots=True)
class BuyerTitle:
    """The buyer named on an invoice (抬头); a company carries its tax number."""

    kind: TitleKind
    name: str
    tax_id: str | None = None
    email: str | None = None


def check_title(title: BuyerTitle) -> BuyerTitle:
    """The title with its fields trimmed; InvalidTaxIdError or ValidationFailedError naming one."""
    name = title.name.strip()
    if not 1 <= len(name) <= 100:
        raise ValidationFailedError("发票抬头名称不正确", detail="name")
    tax_id = (title.tax_id or "").strip().upper() or None
    if title.kind is TitleKind.COMPANY:
        if tax_id is None or not valid_tax_id(tax_id):
            raise InvalidTaxIdError(detail="tax_id")
    elif tax_id is not None:
        raise ValidationFailedError("个人抬头不填写纳税人识别号", detail="tax_id")
    email = check_email(title.email) if (title.email or "").strip() else None
    return BuyerTitle(title.kind, name, tax_id, email)


def check_email(address: str | None) -> str:
    """An email address by form, trimmed; ValidationFailedError naming `email`."""
    email = (address or "").strip()
    if not _EMAIL.match(email):
        raise ValidationFailedError("邮箱地址不正确", detail="email")
    return email


def invoiceable_fen(payment: Payment, in_flight_refund_fen: int = 0) -> int:
    """What of a payment may be invoiced: paid, net of refunds done and asked for."""
    if payment.status not in (PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED):
        return 0
    if payment.channel in NOT_INVOICED_CHANNELS:
        return 0
    return max(payment.amount_fen - payment.refunded_fen - in_flight_refund_fen, 0)


def kind_for(payment: Payment, *, fiscal_seller: bool) -> InvoiceKind:
    """The document a payment gets, by its purpose and whether its seller takes non-tax revenue."""
    if payment.purpose is PaymentPurpose.TOP_UP:
        return InvoiceKind.PREPAID
    if fiscal_seller and payment.purpose is PaymentPurpose.STAY:
        return InvoiceKind.FISCAL_RECEIPT
    return InvoiceKind.DIGITAL_VAT


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One payment on an invoice and the fen invoiced for it."""

    out_trade_no: str
    amount_fen: int


@dataclass(frozen=True, slots=True)
class Invoice:
    """An application for one invoice over one or several payments of one seller."""

    invoice_no: str  # ours, also the provider's application number (fapiao_apply_id)
    driver_id: int
    sub_mchid: str
    operator_code: str
    kind: InvoiceKind
    title: BuyerTitle
    lines: tuple[InvoiceLine, ...]
    status: InvoiceStatus
    created_at: datetime
    attempts: int = 0
    next_try_at: datetime | None = None
    failure: str | None = None
    document_code: str | None = None  # 发票代码 / 票据代码
    document_number: str | None = None  # 发票号码 / 票据号码
    check_code: str | None = None  # 校验码
    file_url: str | None = None
    issued_at: datetime | None = None
    reversed_at: datetime | None = None
    replaces: str | None = None  # the reversed invoice this one reissues

    @property
    def amount_fen(self) -> int:
        """The invoice's total."""
        return sum(line.amount_fen for line in self.lines)


InvoiceChange = Callable[["Invoice"], "Invoice"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A payment with what is left to invoice of it and the seller's document kind."""

    payment: Payment
    amount_fen: int
    kind: InvoiceKind


def new_invoice_no(now: datetime) -> str:
    """A 28-digit-or-less application number: the day, time and random digits."""
    return f"IV{now:%Y%m%d%H%M%S}{secrets.randbelow(10**10):010d}"


def plan_invoice(
    invoice_no: str,
    driver_id: int,
    title: BuyerTitle,
    candidates: Sequence[Candidate],
    now: datetime,
) -> Invoice:
    """One invoice over payments of one seller and one kind; each line what is left to invoice."""
    check_merge(candidates)
    first = candidates[0].payment
    return Invoice(
        invoice_no=invoice_no,
        driver_id=driver_id,
        sub_mchid=first.sub_mchid,
        operator_code=first.operator_code,
        kind=candidates[0].kind,
        title=check_title(title),
        lines=tuple(InvoiceLine(c.payment.out_trade_no, c.amount_fen) for c in candidates),
        status=InvoiceStatus.REQUESTED,
        created_at=now,
        next_try_at=now,
    )


def check_merge(candidates: Sequence[Candidate]) -> None:
    """Payments that may share one invoice: some, of one seller and kind, each with money left."""
    if not candidates:
        raise ValidationFailedError("请选择要开票的支付单", detail="out_trade_nos")
    sellers = sorted({c.payment.sub_mchid for c in candidates})
    if len(sellers) > 1:
        raise MixedSellersError(detail=f"sellers: {', '.join(sellers)}")
    kinds = {c.kind for c in candidates}
    if len(kinds) > 1:
        raise MixedSellersError("票据种类不同的支付单不能合并开票", detail="kinds differ")
    empty = [c.payment.out_trade_no for c in candidates if c.amount_fen <= 0]
    if empty:
        raise NotInvoiceableError(detail=f"nothing to invoice: {', '.join(empty)}")


def start_issuing(invoice: Invoice, now: datetime) -> Invoice:
    """The application goes to the provider; asked about again after POLL_AFTER."""
    if invoice.status not in (InvoiceStatus.REQUESTED, InvoiceStatus.FAILED):
        raise InvoiceStateError(detail=f"{invoice.invoice_no} is {invoice.status}")
    return replace(
        invoice,
        status=InvoiceStatus.ISSUING,
        attempts=invoice.attempts + 1,
        next_try_at=now + POLL_AFTER,
    )


def still_waiting(invoice: Invoice, now: datetime) -> Invoice:
    """The provider is still issuing or reversing: ask again later."""
    if invoice.status not in (InvoiceStatus.ISSUING, InvoiceStatus.REVERSING):
        raise InvoiceStateError(detail=f"{invoice.invoice_no} is {invoice.status}")
    return replace(invoice, next_try_at=now + POLL_AFTER)


@dataclass(frozen=True, slots=True)
class IssuedDocument:
    """What the provider reports of an issued invoice or receipt."""

    code: str
    number: str
    check_code: str
    file_url: str
    issued_at: datetime


def mark_issued(invoice: Invoice, document: IssuedDocument) -> Invoice:
    """The document exists; a second report of it changes nothing."""
    if invoice.status is InvoiceStatus.ISSUED:
        return invoice
    if invoice.status not in (InvoiceStatus.REQUESTED, InvoiceStatus.ISSUING, InvoiceStatus.FAILED):
        raise InvoiceStateError(detail=f"{invoice.invoice_no} is {invoice.status}")
    return replace(
        invoice,
        status=InvoiceStatus.ISSUED,
        document_code=document.code,
        document_number=document.number,
        check_code=document.check_code,
        file_url=document.file_url,
        issued_at=document.issued_at,
        failure=None,
        next_try_at=None,
    )


def mark_failed(invoice: Invoice, reason: str, now: datetime) -> Invoice:
    """The provider refused: try again after a doubling wait, none after the last attempt."""
    if invoice.status not in (InvoiceStatus.REQUESTED, InvoiceStatus.ISSUING, InvoiceStatus.FAILED):
        raise InvoiceStateError(detail=f"{invoice.invoice_no} is {invoice.status}")
    attempts = max(invoice.attempts, 1)
    wait = FIRST_BACKOFF * 2 ** (attempts - 1)
    next_try = now + wait if attempts < MAX_ATTEMPTS else None
    return replace(invoice, status=InvoiceStatus.FAILED, failure=reason[:200], next_try_at=next_try)


def retry_now(invoice: Invoice, now: datetime) -> Invoice:
    """Finance asks for another try of a failed invoice."""
    if invoice.status is not InvoiceStatus.FAILED:
        raise InvoiceStateError(detail=f"{invoice.invoice_no} is {invoice.status}")
    return replace(invoice, attempts=0, next_try_at=now)


def owe_reversal(invoice: Invoice, now: datetime) -> Invoice:
    """A refund took money back after issuing: the invoice is to be reversed (红冲)."""
    if invoice.status is not InvoiceStatus.ISSUED:
        raise InvoiceStateError(detail=f"{invoice.invoice_no} is {invoice.status}")
    return replace(invoice, status=InvoiceStatus.REVERSING, next_try_at=now)


def mark_reversed(invoice: Invoice, now: datetime) -> Invoice:
    """The provider issued the red-letter document."""
    if invoice.status is InvoiceStatus.REVERSED:
        return invoice
    if invoice.status is not InvoiceStatus.REVERSING:
        raise InvoiceStateError(detail=f"{invoice.invoice_no} is {invoice.status}")
    return replace(invoice, status=InvoiceStatus.REVERSED, reversed_at=now, next_try_at=None)


def withdraw_unissued(invoice: Invoice, now: datetime) -> Invoice:
    """A refund came before the provider issued: the application ends without a document."""
    if invoice.status not in (InvoiceStatus.REQUESTED, InvoiceStatus.FAILED):
        raise InvoiceStateError(detail=f"{invoice.invoice_no} is {invoice.status}")
    return replace(invoice, status=InvoiceStatus.REVERSED, reversed_at=now, next_try_at=None)


def reissue_lines(invoice: Invoice, left_fen: dict[str, int]) -> tuple[InvoiceLine, ...]:
    """The lines of a reissue after a refund: each payment capped at what is left of it."""
    lines = (
        InvoiceLine(line.out_trade_no, min(line.amount_fen, left_fen.get(line.out_trade_no, 0)))
        for line in invoice.lines
    )
    return tuple(line for line in lines if line.amount_fen > 0)


def reissue(
    invoice: Invoice, invoice_no: str, lines: tuple[InvoiceLine, ...], now: datetime
) -> Invoice:
    """A new application for what remains of a reversed invoice, to the same buyer."""
    return Invoice(
        invoice_no=invoice_no,
        driver_id=invoice.driver_id,
        sub_mchid=invoice.sub_mchid,
        operator_code=invoice.operator_code,
        kind=invoice.kind,
        title=invoice.title,
        lines=lines,
        status=InvoiceStatus.REQUESTED,
        created_at=now,
        next_try_at=now,
        replaces=invoice.invoice_no,
    )


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    """What a refund does to the invoice holding a payment: the invoice after, and a reissue."""

    invoice: Invoice
    reissue: Invoice | None


def on_refund(
    invoice: Invoice, left_fen: dict[str, int], new_no: str, now: datetime
) -> RefundOutcome:
    """Reverse (or withdraw) an invoice that now says more than was kept, and reissue the rest.

    An application still at the provider (issuing) waits: its report comes back here.
    """
    over = any(line.amount_fen > left_fen.get(line.out_trade_no, 0) for line in invoice.lines)
    if not over or invoice.status not in HOLDING or invoice.status is InvoiceStatus.ISSUING:
        return RefundOutcome(invoice, None)
    if invoice.status is InvoiceStatus.ISSUED:
        ended = owe_reversal(invoice, now)
    else:
        ended = withdraw_unissued(invoice, now)
    lines = reissue_lines(invoice, left_fen)
    return RefundOutcome(ended, reissue(invoice, new_no, lines, now) if lines else None)
