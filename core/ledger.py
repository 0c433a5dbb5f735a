"""Double-entry ledger rules: every money event posts lines whose debits equal credits."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class UnbalancedEntryError(ValueError):
    """A journal entry whose debits and credits differ, or with a non-positive line."""


class AccountKind(StrEnum):
    """The kinds of account the platform keeps; a kind plus a subject names one account."""

    DRIVER_RECEIVABLE = "driver_receivable"  # subject: plate
    OPERATOR_REVENUE = "operator_revenue"  # subject: operator code
    WECHAT_CLEARING = "wechat_clearing"  # subject: sub_mchid
    CASH_ON_HAND = "cash_on_hand"  # subject: cashier shift
    WAIVED = "waived"  # subject: operator code
    STORED_VALUE = "stored_value"  # subject: card


@dataclass(frozen=True, slots=True)
class Account:
    """One ledger account, e.g. the receivable of plate 浙B12345."""

    kind: AccountKind
    subject: str

    @property
    def key(self) -> str:
        """The stable text form stored in the database."""
        return f"{self.kind.value}:{self.subject}"

    @classmethod
    def from_key(cls, key: str) -> Account:
        """Parse the stored text form."""
        kind, _, subject = key.partition(":")
        return cls(AccountKind(kind), subject)


@dataclass(frozen=True, slots=True)
class Posting:
    """One line of a journal entry; amount in fen, always positive."""

    account: Account
    debit_fen: int = 0
    credit_fen: int = 0


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """A balanced set of postings for one money event."""

    kind: str
    reference: str
    postings: tuple[Posting, ...]

    def __post_init__(self) -> None:
        check_balanced(self.postings)


def check_balanced(postings: tuple[Posting, ...]) -> None:
    """Raise UnbalancedEntryError unless the postings form a valid entry."""
    if len(postings) < 2:
        raise UnbalancedEntryError("an entry needs at least two postings")
    for posting in postings:
        one_sided = (posting.debit_fen > 0) != (posting.credit_fen > 0)
        if not one_sided or posting.debit_fen < 0 or posting.credit_fen < 0:
            raise UnbalancedEntryError(f"posting to {posting.account.key} must be one-sided > 0")
    debits = sum(p.debit_fen for p in postings)
    credits = sum(p.credit_fen for p in postings)
    if debits != credits:
        raise UnbalancedEntryError(f"debits {debits} != credits {credits}")


def stay_charged(stay_ref: str, plate: str, operator_code: str, fee_fen: int) -> JournalEntry:
    """A priced stay: the plate owes the operator its fee."""
    return JournalEntry(
        kind="stay_charged",
        reference=stay_ref,
        postings=(
            Posting(Account(AccountKind.DRIVER_RECEIVABLE, plate), debit_fen=fee_fen),
            Posting(Account(AccountKind.OPERATOR_REVENUE, operator_code), credit_fen=fee_fen),
        ),
    )
