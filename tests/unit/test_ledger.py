"""Journal entries balance or are refused."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.ledger import (
    Account,
    AccountKind,
    JournalEntry,
    Posting,
    UnbalancedEntryError,
    stay_charged,
)

RECEIVABLE = Account(AccountKind.DRIVER_RECEIVABLE, "浙B12345")
REVENUE = Account(AccountKind.OPERATOR_REVENUE, "OP-CITY")


@given(st.integers(min_value=1, max_value=10**9))
def test_stay_charged_balances(fee: int) -> None:
    entry = stay_charged("s1", "浙B12345", "OP-CITY", fee)
    assert sum(p.debit_fen for p in entry.postings) == fee
    assert sum(p.credit_fen for p in entry.postings) == fee


def test_unbalanced_entry_is_refused() -> None:
    with pytest.raises(UnbalancedEntryError, match="debits 100 != credits 99"):
        JournalEntry(
            "x", "r", (Posting(RECEIVABLE, debit_fen=100), Posting(REVENUE, credit_fen=99))
        )


@pytest.mark.parametrize(
    "posting",
    [Posting(REVENUE), Posting(REVENUE, debit_fen=5, credit_fen=5), Posting(REVENUE, debit_fen=-5)],
)
def test_postings_must_be_one_sided_and_positive(posting: Posting) -> None:
    with pytest.raises(UnbalancedEntryError):
        JournalEntry("x", "r", (Posting(RECEIVABLE, debit_fen=5), posting))


def test_zero_fee_cannot_be_posted() -> None:
    with pytest.raises(UnbalancedEntryError):
        stay_charged("s1", "浙B12345", "OP-CITY", 0)


def test_account_key_round_trips() -> None:
    assert Account.from_key(RECEIVABLE.key) == RECEIVABLE
