"""Payment and refund entries balance, and a stay paid twice nets to nothing owed."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from core.ledger import (
    AccountKind,
    JournalEntry,
    payment_refunded,
    payment_settled,
    stay_charged,
)

PLATE, OPERATOR, SUB_MCHID = "浙B12345", "OP-CITY", "1900000101"


def balances(*entries: JournalEntry) -> Counter[str]:
    totals: Counter[str] = Counter()
    for entry in entries:
        for posting in entry.postings:
            totals[posting.account.key] += posting.debit_fen - posting.credit_fen
    return totals


@given(st.integers(min_value=1, max_value=10**9))
def test_payment_entries_balance(amount: int) -> None:
    for entry in (
        payment_settled("PK1", PLATE, SUB_MCHID, amount),
        payment_refunded("RF1", PLATE, SUB_MCHID, amount),
    ):
        assert sum(p.debit_fen for p in entry.postings) == amount
        assert sum(p.credit_fen for p in entry.postings) == amount


def test_payment_moves_the_debt_to_the_sub_merchants_clearing_account() -> None:
    entry = payment_settled("PK1", PLATE, SUB_MCHID, 800)
    kinds = {(p.account.kind, p.account.subject, p.debit_fen, p.credit_fen) for p in entry.postings}
    assert kinds == {
        (AccountKind.WECHAT_CLEARING, SUB_MCHID, 800, 0),
        (AccountKind.DRIVER_RECEIVABLE, PLATE, 0, 800),
    }
    assert (entry.kind, entry.reference) == ("payment_settled", "PK1")


def test_a_stay_paid_twice_and_refunded_once_owes_nothing() -> None:
    totals = balances(
        stay_charged("s1", PLATE, OPERATOR, 800),
        payment_settled("PK1", PLATE, SUB_MCHID, 800),
        payment_settled("PK2", PLATE, SUB_MCHID, 800),
        payment_refunded("RF2", PLATE, SUB_MCHID, 800),
    )
    assert totals[f"driver_receivable:{PLATE}"] == 0
    assert totals[f"wechat_clearing:{SUB_MCHID}"] == 800
    assert totals[f"operator_revenue:{OPERATOR}"] == -800
    assert sum(totals.values()) == 0


def test_a_partial_refund_leaves_the_plate_owing_it_again() -> None:
    totals = balances(
        stay_charged("s1", PLATE, OPERATOR, 800),
        payment_settled("PK1", PLATE, SUB_MCHID, 800),
        payment_refunded("RF1", PLATE, SUB_MCHID, 300),
    )
    assert totals[f"driver_receivable:{PLATE}"] == 300
    assert totals[f"wechat_clearing:{SUB_MCHID}"] == 500
