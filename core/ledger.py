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
    STORED_VALUE = "stored_value"  # subject: card (a liability: what its holder may spend)
    DEFERRED_REVENUE = "deferred_revenue"  # subject: operator code (passes paid in advance)
    SHARES_SENT = "shares_sent"  # subject: operator code/receiver (city or platform)
    WRITTEN_OFF = "written_off"  # subject: operator code (bad debts, 坏账核销)
    NETWORK_SITE = "network_site"  # subject: networked lot code (what it took on site itself)


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


def _transfer(
    kind: str, reference: str, debit: Account, credit: Account, amount_fen: int
) -> JournalEntry:
    """The common two-line entry: one account debited, one credited, by the same amount."""
    return JournalEntry(
        kind=kind,
        reference=reference,
        postings=(Posting(debit, debit_fen=amount_fen), Posting(credit, credit_fen=amount_fen)),
    )


def stay_charged(stay_ref: str, plate: str, operator_code: str, fee_fen: int) -> JournalEntry:
    """A priced stay: the plate owes the operator its fee."""
    return _transfer(
        "stay_charged",
        stay_ref,
        Account(AccountKind.DRIVER_RECEIVABLE, plate),
        Account(AccountKind.OPERATOR_REVENUE, operator_code),
        fee_fen,
    )


def payment_settled(out_trade_no: str, plate: str, sub_mchid: str, amount_fen: int) -> JournalEntry:
    """A payment reached the sub-merchant's WeChat Pay account: clearing up, the plate owes less."""
    return _transfer(
        "payment_settled",
        out_trade_no,
        Account(AccountKind.WECHAT_CLEARING, sub_mchid),
        Account(AccountKind.DRIVER_RECEIVABLE, plate),
        amount_fen,
    )


def payment_refunded(
    out_refund_no: str, plate: str, sub_mchid: str, amount_fen: int
) -> JournalEntry:
    """Money went back to the payer: clearing down, the plate's credit (or debt) restored."""
    return _transfer(
        "payment_refunded",
        out_refund_no,
        Account(AccountKind.DRIVER_RECEIVABLE, plate),
        Account(AccountKind.WECHAT_CLEARING, sub_mchid),
        amount_fen,
    )


def stay_charge_reversed(
    stay_ref: str, plate: str, operator_code: str, fee_fen: int
) -> JournalEntry:
    """A priced stay's charge taken back, e.g. when late device events changed the stay."""
    return _transfer(
        "stay_charge_reversed",
        stay_ref,
        Account(AccountKind.OPERATOR_REVENUE, operator_code),
        Account(AccountKind.DRIVER_RECEIVABLE, plate),
        fee_fen,
    )


def cash_received(receipt_no: str, shift_ref: str, plate: str, amount_fen: int) -> JournalEntry:
    """A cashier took cash for a stay: the shift holds the cash, the plate owes less."""
    return _transfer(
        "cash_received",
        receipt_no,
        Account(AccountKind.CASH_ON_HAND, shift_ref),
        Account(AccountKind.DRIVER_RECEIVABLE, plate),
        amount_fen,
    )


def paid_at_network_lot(reference: str, lot_code: str, plate: str, amount_fen: int) -> JournalEntry:
    """A networked lot took money on site (its own channels): the plate owes less."""
    return _transfer(
        "network_site_paid",
        reference,
        Account(AccountKind.NETWORK_SITE, lot_code),
        Account(AccountKind.DRIVER_RECEIVABLE, plate),
        amount_fen,
    )


def network_site_returned(
    reference: str, lot_code: str, plate: str, amount_fen: int
) -> JournalEntry:
    """A networked lot gave back on site what it took twice: the plate's credit is used up."""
    return _transfer(
        "network_site_returned",
        reference,
        Account(AccountKind.DRIVER_RECEIVABLE, plate),
        Account(AccountKind.NETWORK_SITE, lot_code),
        amount_fen,
    )


def stored_value_spent(stay_ref: str, card_ref: str, plate: str, amount_fen: int) -> JournalEntry:
    """A stay paid from a stored-value card: the card's prepaid balance pays the plate's debt."""
    return _transfer(
        "stored_value_spent",
        stay_ref,
        Account(AccountKind.STORED_VALUE, card_ref),
        Account(AccountKind.DRIVER_RECEIVABLE, plate),
        amount_fen,
    )


def fee_waived(reference: str, plate: str, operator_code: str, amount_fen: int) -> JournalEntry:
    """A staff member released a car without payment, with a reason: the operator forgoes it."""
    return _transfer(
        "fee_waived",
        reference,
        Account(AccountKind.WAIVED, operator_code),
        Account(AccountKind.DRIVER_RECEIVABLE, plate),
        amount_fen,
    )


def pass_sold(
    out_trade_no: str, sub_mchid: str, operator_code: str, amount_fen: int
) -> JournalEntry:
    """A pass paid in advance: the money is in clearing, owed as months not yet served.

    It is unearned until the months pass; the monthly deferred-revenue job moves the part
    served to operator revenue (pass_revenue_recognised).
    """
    return _transfer(
        "pass_sold",
        out_trade_no,
        Account(AccountKind.WECHAT_CLEARING, sub_mchid),
        Account(AccountKind.DEFERRED_REVENUE, operator_code),
        amount_fen,
    )


def pass_refunded(
    out_refund_no: str, sub_mchid: str, operator_code: str, amount_fen: int
) -> JournalEntry:
    """Money of a pass went back to its payer: the unearned months owed less, clearing down."""
    return _transfer(
        "pass_refunded",
        out_refund_no,
        Account(AccountKind.DEFERRED_REVENUE, operator_code),
        Account(AccountKind.WECHAT_CLEARING, sub_mchid),
        amount_fen,
    )


def stored_value_topped_up(
    out_trade_no: str, sub_mchid: str, card_ref: str, amount_fen: int
) -> JournalEntry:
    """A top-up reached the sub-merchant: clearing up, and the card holds more to spend."""
    return _transfer(
        "stored_value_topped_up",
        out_trade_no,
        Account(AccountKind.WECHAT_CLEARING, sub_mchid),
        Account(AccountKind.STORED_VALUE, card_ref),
        amount_fen,
    )


def stored_value_refunded(
    out_refund_no: str, sub_mchid: str, card_ref: str, amount_fen: int
) -> JournalEntry:
    """Unspent stored value went back to its payer: the card holds less, clearing down."""
    return _transfer(
        "stored_value_refunded",
        out_refund_no,
        Account(AccountKind.STORED_VALUE, card_ref),
        Account(AccountKind.WECHAT_CLEARING, sub_mchid),
        amount_fen,
    )


def shares_sent(
    out_order_no: str, sub_mchid: str, operator_code: str, fen_by_receiver: dict[str, int]
) -> JournalEntry:
    """Profit sharing moved fen from the sub-merchant to each receiver: clearing down."""
    lines = tuple(
        Posting(Account(AccountKind.SHARES_SENT, f"{operator_code}/{receiver}"), debit_fen=fen)
        for receiver, fen in sorted(fen_by_receiver.items())
        if fen > 0
    )
    total = sum(fen_by_receiver.values())
    clearing = Posting(Account(AccountKind.WECHAT_CLEARING, sub_mchid), credit_fen=total)
    return JournalEntry("shares_sent", out_order_no, (*lines, clearing))


def share_returned(
    out_return_no: str, sub_mchid: str, operator_code: str, receiver: str, amount_fen: int
) -> JournalEntry:
    """A receiver gave a share back after a refund: clearing up again."""
    return _transfer(
        "share_returned",
        out_return_no,
        Account(AccountKind.WECHAT_CLEARING, sub_mchid),
        Account(AccountKind.SHARES_SENT, f"{operator_code}/{receiver}"),
        amount_fen,
    )


def arrear_written_off(
    write_off_ref: str, plate: str, operator_code: str, amount_fen: int
) -> JournalEntry:
    """An approved write-off (坏账核销): the operator books the unpaid fee as a bad debt."""
    return _transfer(
        "arrear_written_off",
        write_off_ref,
        Account(AccountKind.WRITTEN_OFF, operator_code),
        Account(AccountKind.DRIVER_RECEIVABLE, plate),
        amount_fen,
    )


def pass_revenue_recognised(reference: str, operator_code: str, amount_fen: int) -> JournalEntry:
    """The part of passes sold in advance that a month served: deferred becomes revenue."""
    return _transfer(
        "pass_revenue_recognised",
        reference,
        Account(AccountKind.DEFERRED_REVENUE, operator_code),
        Account(AccountKind.OPERATOR_REVENUE, operator_code),
        amount_fen,
    )
