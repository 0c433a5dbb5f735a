"""Invoice rules: titles and tax numbers, what is invoiceable, merging, states, reversals."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import invoices
from core.errors import ValidationFailedError
from core.invoices import (
    BuyerTitle,
    Candidate,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    IssuedDocument,
    TitleKind,
)
from core.payments import Payment, PaymentPurpose, PaymentStatus

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
PERSON = BuyerTitle(TitleKind.PERSONAL, "李雷")
# Published 统一社会信用代码 of real companies (Tencent, Huawei, Baidu) and GB 32100's sample.
REAL_CODES = (
    "9144030071526726XG",
    "914403001922038216",
    "91110000802100433B",
    "91350100M000100Y43",
)


def payment(
    no: str, amount: int, *, sub: str = "1900000101", refunded: int = 0, **kw: object
) -> Payment:
    status = PaymentStatus.PARTIALLY_REFUNDED if refunded else PaymentStatus.PAID
    fields: dict[str, object] = dict(
        out_trade_no=no,
        channel="wechat_jsapi",
        stay_ref=f"S-{no}",
        plate="粤B12345",
        operator_code="OP-1",
        sub_mchid=sub,
        amount_fen=amount,
        payer_openid="o-1",
        appid="wx1",
        status=status,
        created_at=NOW,
        paid_at=NOW,
        refunded_fen=refunded,
    )
    fields.update(kw)
    return Payment(**fields)  # type: ignore[arg-type]


def cand(p: Payment, kind: InvoiceKind = InvoiceKind.DIGITAL_VAT) -> Candidate:
    return Candidate(p, invoices.invoiceable_fen(p), kind)


def document(n: int = 1) -> IssuedDocument:
    return IssuedDocument(
        "044001900111", f"{n:08d}", "12345678901234567890", "https://f/1.pdf", NOW
    )


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_credit_codes_pass_the_check_character(code: str) -> None:
    assert invoices.valid_tax_id(code)
    assert invoices.uscc_check_char(code[:17]) == code[17]


@pytest.mark.parametrize(
    "bad",
    [
        "9144030071526726XA",  # wrong check character
        "9144030071526726X",  # 17 characters is an old form only when it fits the form
        "91440300715267260I",  # I is not in the alphabet
        "12345",
        "",
        "914403007152672-XG",
    ],
)
def test_wrong_credit_codes_are_refused(bad: str) -> None:
    if len(bad) == 17:
        assert invoices.valid_tax_id(bad)  # old 17-character numbers pass by form
        return
    assert not invoices.valid_tax_id(bad)


def test_old_tax_numbers_pass_by_form() -> None:
    assert invoices.valid_tax_id("440300715267263")
    assert invoices.valid_tax_id("44030071526726300000")
    assert not invoices.valid_tax_id("4403007152672630000")  # 19 characters


def test_company_title_needs_a_valid_tax_id_and_names_the_field() -> None:
    with pytest.raises(invoices.InvalidTaxIdError) as caught:
        invoices.check_title(BuyerTitle(TitleKind.COMPANY, "腾讯", "9144030071526726XA"))
    assert caught.value.detail == "tax_id"
    title = invoices.check_title(BuyerTitle(TitleKind.COMPANY, " 腾讯 ", "9144030071526726xg"))
    assert (title.name, title.tax_id) == ("腾讯", "9144030071526726XG")
    with pytest.raises(ValidationFailedError):
        invoices.check_title(BuyerTitle(TitleKind.PERSONAL, "李雷", email="not-an-email"))


def test_invoiceable_is_paid_net_of_refunds_and_never_stored_value() -> None:
    assert invoices.invoiceable_fen(payment("a", 1000, refunded=300), 200) == 500
    assert invoices.invoiceable_fen(payment("b", 1000, status=PaymentStatus.PENDING)) == 0
    assert invoices.invoiceable_fen(payment("c", 1000, status=PaymentStatus.REFUNDED)) == 0
    assert invoices.invoiceable_fen(payment("d", 1000, channel="stored_value")) == 0


def test_kind_by_seller_and_purpose() -> None:
    stay, top_up = (
        payment("a", 100),
        payment("b", 100, purpose=PaymentPurpose.TOP_UP, stay_ref=None),
    )
    assert invoices.kind_for(stay, fiscal_seller=True) is InvoiceKind.FISCAL_RECEIPT
    assert invoices.kind_for(stay, fiscal_seller=False) is InvoiceKind.DIGITAL_VAT
    assert invoices.kind_for(top_up, fiscal_seller=True) is InvoiceKind.PREPAID


def test_only_one_sellers_payments_merge() -> None:
    with pytest.raises(invoices.MixedSellersError) as caught:
        invoices.plan_invoice(
            "IV1", 1, PERSON, [cand(payment("a", 100)), cand(payment("b", 100, sub="2"))], NOW
        )
    assert "1900000101" in caught.value.detail and "2" in caught.value.detail
    merged = invoices.plan_invoice(
        "IV1", 1, PERSON, [cand(payment("a", 100)), cand(payment("b", 250, refunded=50))], NOW
    )
    assert (merged.amount_fen, merged.status) == (300, InvoiceStatus.REQUESTED)


def test_failures_back_off_and_stop_after_the_last_attempt() -> None:
    invoice = invoices.plan_invoice("IV1", 1, PERSON, [cand(payment("a", 100))], NOW)
    waits = []
    for _ in range(invoices.MAX_ATTEMPTS):
        invoice = invoices.mark_failed(invoices.start_issuing(invoice, NOW), "税控盘离线", NOW)
        waits.append(invoice.next_try_at)
    assert waits[:3] == [NOW + timedelta(minutes=m) for m in (1, 2, 4)]
    assert waits[-1] is None and invoice.failure == "税控盘离线"
    assert invoices.retry_now(invoice, NOW).next_try_at == NOW


def test_refund_after_issuing_reverses_and_reissues_the_rest() -> None:
    planned = invoices.plan_invoice(
        "IV1", 1, PERSON, [cand(payment("a", 1000)), cand(payment("b", 500))], NOW
    )
    issued = invoices.mark_issued(invoices.start_issuing(planned, NOW), document())
    outcome = invoices.on_refund(issued, {"a": 600, "b": 500}, "IV2", NOW)
    assert outcome.invoice.status is InvoiceStatus.REVERSING
    assert outcome.reissue is not None and outcome.reissue.replaces == "IV1"
    assert [(x.out_trade_no, x.amount_fen) for x in outcome.reissue.lines] == [
        ("a", 600),
        ("b", 500),
    ]
    full = invoices.on_refund(issued, {"a": 0, "b": 0}, "IV3", NOW)
    assert full.reissue is None and full.invoice.status is InvoiceStatus.REVERSING
    untouched = invoices.on_refund(issued, {"a": 1000, "b": 500}, "IV4", NOW)
    assert untouched.invoice is issued and untouched.reissue is None


def test_refund_before_issuing_withdraws_and_while_issuing_waits() -> None:
    planned = invoices.plan_invoice("IV1", 1, PERSON, [cand(payment("a", 1000))], NOW)
    withdrawn = invoices.on_refund(planned, {"a": 400}, "IV2", NOW)
    assert withdrawn.invoice.status is InvoiceStatus.REVERSED
    assert withdrawn.reissue is not None and withdrawn.reissue.amount_fen == 400
    issuing = invoices.start_issuing(planned, NOW)
    assert invoices.on_refund(issuing, {"a": 400}, "IV3", NOW).invoice is issuing


@dataclass
class Books:
    """A pure model of one seller's payments and invoices, as the services drive the rules."""

    paid: list[int]
    refunded: list[int] = field(default_factory=list)
    invoices: dict[str, Invoice] = field(default_factory=dict)
    blue: dict[str, int] = field(default_factory=dict)  # fen on documents issued, by payment
    red: dict[str, int] = field(default_factory=dict)  # fen on red-letter documents, by payment
    counter: int = 0

    def no(self) -> str:
        self.counter += 1
        return f"IV{self.counter}"

    def payment(self, i: int) -> Payment:
        return payment(f"p{i}", self.paid[i], refunded=self.refunded[i])

    def left(self) -> dict[str, int]:
        return {f"p{i}": self.paid[i] - self.refunded[i] for i in range(len(self.paid))}

    def held(self) -> set[str]:
        return {
            x.out_trade_no
            for v in self.invoices.values()
            if v.status in invoices.HOLDING
            for x in v.lines
        }

    def settle(self, invoice: Invoice) -> None:
        outcome = invoices.on_refund(invoice, self.left(), self.no(), NOW)
        self.invoices[invoice.invoice_no] = outcome.invoice
        if outcome.reissue is not None:
            self.invoices[outcome.reissue.invoice_no] = outcome.reissue

    def request(self, picks: list[int]) -> None:
        numbers = sorted({i % len(self.paid) for i in picks})
        found = [cand(self.payment(i)) for i in numbers]
        if self.held() & {f"p{i}" for i in numbers} or any(c.amount_fen <= 0 for c in found):
            return
        invoice = invoices.plan_invoice(self.no(), 1, PERSON, found, NOW)
        self.invoices[invoice.invoice_no] = invoice

    def step(self, which: int, ok: bool) -> None:
        ready = sorted(self.invoices)
        if not ready:
            return
        invoice = self.invoices[ready[which % len(ready)]]
        if invoice.status in (InvoiceStatus.REQUESTED, InvoiceStatus.FAILED):
            original = self.invoices.get(invoice.replaces or "")
            if original is None or original.status is InvoiceStatus.REVERSED:
                self.invoices[invoice.invoice_no] = invoices.start_issuing(invoice, NOW)
        elif invoice.status is InvoiceStatus.ISSUING:
            if not ok:
                self.settle(invoices.mark_failed(invoice, "x", NOW))
                return
            issued = invoices.mark_issued(invoice, document())
            for x in issued.lines:
                self.blue[x.out_trade_no] = self.blue.get(x.out_trade_no, 0) + x.amount_fen
            self.settle(issued)
        elif invoice.status is InvoiceStatus.REVERSING:
            self.invoices[invoice.invoice_no] = invoices.mark_reversed(invoice, NOW)
            for x in invoice.lines:
                self.red[x.out_trade_no] = self.red.get(x.out_trade_no, 0) + x.amount_fen

    def refund(self, i: int, fen: int) -> None:
        i %= len(self.paid)
        take = min(fen, self.paid[i] - self.refunded[i])
        if take <= 0:
            return
        self.refunded[i] += take
        holding = [v for v in self.invoices.values() if v.status in invoices.HOLDING]
        for invoice in holding:
            if f"p{i}" in {x.out_trade_no for x in invoice.lines}:
                self.settle(invoice)

    def owed_red(self, no: str) -> int:
        return sum(
            x.amount_fen
            for v in self.invoices.values()
            if v.status is InvoiceStatus.REVERSING
            for x in v.lines
            if x.out_trade_no == no
        )


operations = st.lists(
    st.one_of(
        st.tuples(st.just("request"), st.lists(st.integers(0, 5), min_size=1, max_size=3)),
        st.tuples(st.just("step"), st.integers(0, 20), st.booleans()),
        st.tuples(st.just("refund"), st.integers(0, 5), st.integers(1, 5000)),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(1, 5000), min_size=1, max_size=4), operations)
def test_invoiced_less_reversed_never_exceeds_paid_net_of_refunds(
    paid: list[int], ops: list[tuple[object, ...]]
) -> None:
    books = Books(paid, [0] * len(paid))
    for op in ops:
        if op[0] == "request":
            books.request(list(op[1]))  # type: ignore[call-overload]
        elif op[0] == "step":
            books.step(int(op[1]), bool(op[2]))  # type: ignore[call-overload]
        else:
            books.refund(int(op[1]), int(op[2]))  # type: ignore[call-overload]
        left = books.left()
        for no, net in left.items():
            documents = books.blue.get(no, 0) - books.red.get(no, 0) - books.owed_red(no)
            assert documents <= net, (no, documents, net)
            unissued = sum(
                x.amount_fen
                for v in books.invoices.values()
                if v.status in (InvoiceStatus.REQUESTED, InvoiceStatus.FAILED)
                for x in v.lines
                if x.out_trade_no == no
            )
            assert unissued <= net
            live = [v for v in books.invoices.values() if v.status in invoices.HOLDING]
            assert sum(no in {x.out_trade_no for x in v.lines} for v in live) <= 1
    for _ in range(4 * len(books.invoices) + 4):  # the sweep finishes every reversal owed
        for name in list(books.invoices):
            if books.invoices[name].status is InvoiceStatus.REVERSING:
                books.step(sorted(books.invoices).index(name), True)
    for no, net in books.left().items():
        assert books.blue.get(no, 0) - books.red.get(no, 0) <= net
