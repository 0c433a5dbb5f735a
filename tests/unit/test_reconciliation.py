"""Reconciling a day's trade bill with our payments and refunds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from core.bills import SHANGHAI, BillRow, BillTradeState, parse_trade_bill
from core.payments import Payment, PaymentStatus, Refund, RefundStatus
from core.reconciliation import Difference, DifferenceKind, reconcile
from sandbox.wechatpay.bills import render
from sandbox.wechatpay.orders import Order, PayBooks
from sandbox.wechatpay.orders import Refund as SandboxRefund

DAY = date(2026, 11, 24)
T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
SUB = "1900000101"


def payment(n: int, fen: int, *, channel: str = "wechat_jsapi") -> Payment:
    return Payment(
        out_trade_no=f"PK{n:026d}",
        channel=channel,
        stay_ref=f"s{n}",
        plate="浙B12345",
        operator_code="OP-CITY",
        sub_mchid=SUB,
        amount_fen=fen,
        payer_openid="o-payer",
        appid="wx-app",
        status=PaymentStatus.PAID,
        created_at=T0,
        transaction_id=f"42{n:026d}",
        paid_at=T0 + timedelta(minutes=n),
    )


def refund(of: Payment, n: int, fen: int) -> Refund:
    return Refund(
        out_refund_no=f"RF{n:026d}",
        out_trade_no=of.out_trade_no,
        amount_fen=fen,
        reason="多收",
        requested_by="finance",
        status=RefundStatus.SUCCESS,
        created_at=T0 + timedelta(hours=1, minutes=n),
        refund_id=f"50{n:027d}",
    )


def row_of(paid: Payment) -> BillRow:
    return BillRow(
        trade_time=(paid.paid_at or T0).astimezone(SHANGHAI),
        sub_mchid=paid.sub_mchid,
        transaction_id=paid.transaction_id or "",
        out_trade_no=paid.out_trade_no,
        trade_type="JSAPI",
        trade_state=BillTradeState.SUCCESS,
        settlement_fen=paid.amount_fen,
        order_fen=paid.amount_fen,
        refund_id=None,
        out_refund_no=None,
        refund_fen=0,
        requested_refund_fen=0,
        refund_status=None,
        fee_yuan=Decimal("0.00000"),
    )


def refund_row(of: Payment, back: Refund) -> BillRow:
    base = row_of(of)
    return BillRow(
        **{
            **{f: getattr(base, f) for f in BillRow.__slots__},
            "trade_state": BillTradeState.REFUND,
            "settlement_fen": 0,
            "order_fen": 0,
            "refund_id": back.refund_id,
            "out_refund_no": back.out_refund_no,
            "refund_fen": back.amount_fen,
            "requested_refund_fen": back.amount_fen,
            "refund_status": "SUCCESS",
        }
    )


amounts = st.lists(
    st.tuples(st.integers(1, 10_000_000), st.integers(0, 10_000_000)), min_size=0, max_size=20
)


@given(amounts)
def test_a_bill_made_from_our_own_books_has_no_differences(pairs: list[tuple[int, int]]) -> None:
    paid = [payment(n, fen) for n, (fen, _) in enumerate(pairs)]
    refunds = [
        refund(p, n, min(back, p.amount_fen))
        for n, (p, (_, back)) in enumerate(zip(paid, pairs, strict=True))
        if back
    ]
    by_no = {p.out_trade_no: p for p in paid}
    rows = [row_of(p) for p in paid] + [refund_row(by_no[r.out_trade_no], r) for r in refunds]

    report = reconcile(DAY, SUB, rows, paid, refunds)

    assert report.balanced and report.bill_found
    assert (report.matched_payments, report.matched_refunds) == (len(paid), len(refunds))
    assert report.matched_payment_fen == sum(p.amount_fen for p in paid)
    assert report.matched_refund_fen == sum(r.amount_fen for r in refunds)


def test_every_kind_of_difference_is_reported() -> None:
    same, unknown, unbilled, changed = (payment(n, 800) for n in range(4))
    kept_back, lost_back = refund(same, 10, 300), refund(changed, 11, 100)
    stranger = refund(unknown, 12, 50)
    rows = [
        row_of(same),
        row_of(unknown),
        BillRow(
            **{**{f: getattr(row_of(changed), f) for f in BillRow.__slots__}, "order_fen": 700}
        ),
        refund_row(same, kept_back),
        refund_row(unknown, stranger),
    ]
    ours = [same, unbilled, changed]
    ours_back = [kept_back, lost_back]

    report = reconcile(DAY, SUB, rows, ours, ours_back)

    assert not report.balanced
    assert (report.matched_payments, report.matched_payment_fen) == (1, 800)
    assert (report.matched_refunds, report.matched_refund_fen) == (1, 300)
    assert set(report.differences) == {
        Difference(DifferenceKind.PAYMENT_NOT_OURS, unknown.out_trade_no, None, 800, None),
        Difference(DifferenceKind.PAYMENT_NOT_IN_BILL, unbilled.out_trade_no, None, None, 800),
        Difference(DifferenceKind.PAYMENT_AMOUNT_DIFFERS, changed.out_trade_no, None, 700, 800),
        Difference(
            DifferenceKind.REFUND_NOT_OURS, unknown.out_trade_no, stranger.out_refund_no, 50, None
        ),
        Difference(
            DifferenceKind.REFUND_NOT_IN_BILL,
            changed.out_trade_no,
            lost_back.out_refund_no,
            None,
            100,
        ),
    }


def test_a_refund_amount_that_differs_is_reported() -> None:
    paid = payment(1, 800)
    ours = refund(paid, 2, 300)
    billed = refund_row(paid, refund(paid, 2, 200))

    report = reconcile(DAY, SUB, [row_of(paid), billed], [paid], [ours])

    assert report.differences == (
        Difference(
            DifferenceKind.REFUND_AMOUNT_DIFFERS, paid.out_trade_no, ours.out_refund_no, 200, 300
        ),
    )


def test_without_a_bill_every_payment_of_ours_is_missing_from_it() -> None:
    paid = payment(1, 800)
    cash = payment(2, 500, channel="cash")

    report = reconcile(DAY, SUB, None, [paid, cash], [])

    assert not report.bill_found
    assert [d.kind for d in report.differences] == [DifferenceKind.PAYMENT_NOT_IN_BILL]
    assert reconcile(DAY, SUB, None, [cash], []).balanced


def test_the_sandbox_bill_parses_and_reconciles_with_the_books_it_was_written_from() -> None:
    books = PayBooks("1900000100")
    ours: list[Payment] = []
    refunds: list[Refund] = []
    for n, fen in enumerate((800, 1, 123456)):
        mine = payment(n, fen)
        order = Order(
            sp_appid="wx-app",
            sp_mchid="1900000100",
            sub_mchid=SUB,
            out_trade_no=mine.out_trade_no,
            description="路内停车费,HS1",
            notify_url="https://x/notify",
            total=fen,
            payer={"sp_openid": "o-payer"},
            attach="",
            created_at=T0,
            prepay_id=f"wx{n}",
            request={},
            trade_state="SUCCESS",
            transaction_id=mine.transaction_id,
            success_time=mine.paid_at,
        )
        books.orders[order.out_trade_no] = order
        ours.append(mine)
    back = refund(ours[0], 9, 300)
    books.refunds[back.out_refund_no] = SandboxRefund(
        out_refund_no=back.out_refund_no,
        refund_id=back.refund_id or "",
        order=books.orders[ours[0].out_trade_no],
        amount=300,
        reason="",
        notify_url=None,
        created_at=back.created_at,
        status="SUCCESS",
    )
    refunds.append(back)

    text = render(books, DAY, SUB, "ALL")
    assert text is not None
    bill = parse_trade_bill(text)

    assert bill.summary.trade_count == 4
    assert bill.summary.order_fen == 800 + 1 + 123456
    assert bill.summary.refund_fen == 300
    assert reconcile(DAY, SUB, bill.rows, ours, refunds).balanced
    assert render(books, DAY + timedelta(days=1), SUB, "ALL") is None
    assert render(books, DAY, "1900000999", "ALL") is None
