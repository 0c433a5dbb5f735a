"""Daily reconciliation: a sub-merchant's trade bill against our payments and refunds."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from core.bills import BillRow, BillTradeState
from core.payments import Payment, Refund

# The channels WeChat Pay books; cash and other channels never appear in its bills.
WECHAT_CHANNELS = frozenset(
    {"wechat_jsapi", "wechat_micropay", "wechat_parking", "wechat_combine"}  # parking: 无感支付
)


class DifferenceKind(StrEnum):
    """How the bill and our books disagree."""

    PAYMENT_NOT_OURS = "payment_not_ours"  # in the bill, unknown here
    PAYMENT_NOT_IN_BILL = "payment_not_in_bill"  # paid here, not in the bill
    PAYMENT_AMOUNT_DIFFERS = "payment_amount_differs"
    REFUND_NOT_OURS = "refund_not_ours"
    REFUND_NOT_IN_BILL = "refund_not_in_bill"  # refunded here, missing from the bill
    REFUND_AMOUNT_DIFFERS = "refund_amount_differs"


@dataclass(frozen=True, slots=True)
class Difference:
    """One disagreement; an amount is None on the side that lacks the item."""

    kind: DifferenceKind
    out_trade_no: str
    out_refund_no: str | None
    bill_fen: int | None
    our_fen: int | None


@dataclass(frozen=True, slots=True)
class ReconciliationReport:
    """What matched (counts and fen) and every difference, for one sub-merchant and day."""

    day: date
    sub_mchid: str
    bill_found: bool
    matched_payments: int
    matched_payment_fen: int
    matched_refunds: int
    matched_refund_fen: int
    differences: tuple[Difference, ...]

    @property
    def balanced(self) -> bool:
        """Whether the bill and our books agree entirely."""
        return not self.differences


def reconcile(
    day: date,
    sub_mchid: str,
    bill: Iterable[BillRow] | None,
    payments: Iterable[Payment],
    refunds: Iterable[Refund],
) -> ReconciliationReport:
    """Compare the bill's rows (None: no bill exists) with the payments and refunds of the day."""
    rows = list(bill or ())
    ours_paid = {p.out_trade_no: p for p in payments if p.channel in WECHAT_CHANNELS}
    ours_refunded = {r.out_refund_no: r for r in refunds}
    billed_paid = {r.out_trade_no: r for r in rows if r.trade_state is not BillTradeState.REFUND}
    billed_refunded = {
        r.out_refund_no or "": r for r in rows if r.trade_state is BillTradeState.REFUND
    }
    paid = _compare(
        {k: r.order_fen for k, r in billed_paid.items()},
        {k: p.amount_fen for k, p in ours_paid.items()},
        lambda key: (key, None),
        _PAYMENT_KINDS,
    )
    refunded = _compare(
        {k: r.refund_fen for k, r in billed_refunded.items()},
        {k: r.amount_fen for k, r in ours_refunded.items()},
        lambda key: _refund_keys(key, billed_refunded, ours_refunded),
        _REFUND_KINDS,
    )
    return ReconciliationReport(
        day=day,
        sub_mchid=sub_mchid,
        bill_found=bill is not None,
        matched_payments=paid.count,
        matched_payment_fen=paid.fen,
        matched_refunds=refunded.count,
        matched_refund_fen=refunded.fen,
        differences=paid.differences + refunded.differences,
    )


@dataclass(frozen=True, slots=True)
class _Side:
    count: int
    fen: int
    differences: tuple[Difference, ...]


_PAYMENT_KINDS = (
    DifferenceKind.PAYMENT_NOT_OURS,
    DifferenceKind.PAYMENT_NOT_IN_BILL,
    DifferenceKind.PAYMENT_AMOUNT_DIFFERS,
)
_REFUND_KINDS = (
    DifferenceKind.REFUND_NOT_OURS,
    DifferenceKind.REFUND_NOT_IN_BILL,
    DifferenceKind.REFUND_AMOUNT_DIFFERS,
)


def _refund_keys(
    key: str, billed: dict[str, BillRow], ours: dict[str, Refund]
) -> tuple[str, str | None]:
    trade = billed[key].out_trade_no if key in billed else ours[key].out_trade_no
    return trade, key or None


def _compare(
    billed: dict[str, int],
    ours: dict[str, int],
    keys: Callable[[str], tuple[str, str | None]],
    kinds: tuple[DifferenceKind, DifferenceKind, DifferenceKind],
) -> _Side:
    not_ours, not_billed, differs = kinds
    count = fen = 0
    found: list[Difference] = []
    for key in sorted(billed.keys() | ours.keys()):
        bill_fen, our_fen = billed.get(key), ours.get(key)
        if bill_fen == our_fen:
            count, fen = count + 1, fen + (our_fen or 0)
            continue
        kind = not_ours if our_fen is None else not_billed if bill_fen is None else differs
        trade, refund = keys(key)
        found.append(Difference(kind, trade, refund, bill_fen, our_fen))
    return _Side(count, fen, tuple(found))
