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


def payment_settled(out_trade_no: str, plate: str, sub_mchid: str, amount_fen: int) -> JournalEntry:
    """A payment reached the sub-merchant's WeChat Pay account: clearing up, the plate owes less."""
    return JournalEntry(
        kind="payment_settled",
        reference=out_trade_no,
        postings=(
            Posting(Account(AccountKind.WECHAT_CLEARING, sub_mchid), debit_fen=amount_fen),
            Posting(Account(AccountKind.DRIVER_RECEIVABLE, plate), credit_fen=amount_fen),
        ),
    )


def payment_refunded(
    out_refund_no: str, plate: str, sub_mchid: str, amount_fen: int
) -> JournalEntry:
    """Money went back to the payer: clearing down, the plate's credit (or debt) restored."""
    return JournalEntry(
        kind="payment_refunded",
        reference=out_refund_no,
        postings=(
            Posting(Account(AccountKind.DRIVER_RECEIVABLE, plate), debit_fen=amount_fen),
            Posting(Account(AccountKind.WECHAT_CLEARING, sub_mchid), credit_fen=amount_fen),
        ),
    )


def stay_charge_reversed(
    stay_ref: str, plate: str, operator_code: str, fee_fen: int
) -> JournalEntry:
    """A priced stay's charge taken back, e.g. when late device events changed the stay."""
    return JournalEntry(
        kind="stay_charge_reversed",
        reference=stay_ref,
        postings=(
            Posting(Account(AccountKind.OPERATOR_REVENUE, operator_code), debit_fen=fee_fen),
            Posting(Account(AccountKind.DRIVER_RECEIVABLE, plate), credit_fen=fee_fen),
        ),
    )


def cash_received(receipt_no: str, shift_ref: str, plate: str, amount_fen: int) -> JournalEntry:
    """A cashier took cash for a stay: the shift holds the cash, the plate owes less."""
    return JournalEntry(
        kind="cash_received",
        reference=receipt_no,
        postings=(
            Posting(Account(AccountKind.CASH_ON_HAND, shift_ref), debit_fen=amount_fen),
            Posting(Account(AccountKind.DRIVER_RECEIVABLE, plate), credit_fen=amount_fen),
        ),
    )


def stored_value_spent(stay_ref: str, card_ref: str, plate: str, amount_fen: int) -> JournalEntry:
    """A stay paid from a stored-value card: the card's prepaid balance pays the plate's debt."""
    return JournalEntry(
        kind="stored_value_spent",
        reference=stay_ref,
        postings=(
            Posting(Account(AccountKind.STORED_VALUE, card_ref), debit_fen=amount_fen),
            Posting(Account(AccountKind.DRIVER_RECEIVABLE, plate), credit_fen=amount_fen),
        ),
    )


def fee_waived(reference: str, plate: str, operator_code: str, amount_fen: int) -> JournalEntry:
    """A staff member released a car without payment, with a reason: the operator forgoes it."""
    return JournalEntry(
        kind="fee_waived",
        reference=reference,
        postings=(
            Posting(Account(AccountKind.WAIVED, operator_code), debit_fen=amount_fen),
            Posting(Account(AccountKind.DRIVER_RECEIVABLE, plate), credit_fen=amount_fen),
        ),
    )
