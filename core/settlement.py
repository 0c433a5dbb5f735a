"""An operator's monthly settlement statement and the check that it agrees with the ledger.

The statement covers what passed through the operator's WeChat Pay sub-merchant in a Beijing
calendar month: payments, refunds, shares sent to and returned by receivers, and the month's
concession fee. Its net must equal the movement of the sub-merchant's clearing account in the
ledger over the same month, to the fen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from core.payments import SHANGHAI
from core.shares import Receiver, ShareBasis
from core.sheets import Sheet


def month_of(day: date) -> tuple[date, date]:
    """The first and last day of the month a day is in."""
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def month_bounds(day: date) -> tuple[datetime, datetime]:
    """The instants the Beijing month of a day starts and ends."""
    first, last = month_of(day)
    start = datetime(first.year, first.month, 1, tzinfo=SHANGHAI)
    end_day = last + timedelta(days=1)
    return start, datetime(end_day.year, end_day.month, 1, tzinfo=SHANGHAI)


@dataclass(frozen=True, slots=True)
class Statement:
    """One operator's month, in fen."""

    operator_code: str
    operator_name: str
    sub_mchid: str
    month: date  # its first day
    basis: ShareBasis | None
    payments_fen: int
    payments_count: int
    refunds_fen: int
    shares_sent: dict[str, int] = field(default_factory=dict)  # by receiver
    shares_returned: dict[str, int] = field(default_factory=dict)
    concession_due_fen: int = 0
    arrears_recovered_fen: int = 0
    written_off_fen: int = 0
    ledger_clearing_fen: int = 0  # the clearing account's movement in the ledger

    @property
    def shares_sent_fen(self) -> int:
        """Every receiver's shares sent in the month."""
        return sum(self.shares_sent.values())

    @property
    def shares_returned_fen(self) -> int:
        """Every receiver's returns in the month."""
        return sum(self.shares_returned.values())

    @property
    def net_fen(self) -> int:
        """What stayed at the sub-merchant: paid, less refunded, less shares net of returns."""
        shares = self.shares_sent_fen - self.shares_returned_fen
        return self.payments_fen - self.refunds_fen - shares

    @property
    def concession_paid_fen(self) -> int:
        """The city's shares net of returns, which pay the concession fee."""
        city = Receiver.CITY.value
        return self.shares_sent.get(city, 0) - self.shares_returned.get(city, 0)

    @property
    def concession_outstanding_fen(self) -> int:
        """What the operator still owes the city for the month (paid outside profit sharing)."""
        return max(self.concession_due_fen - self.concession_paid_fen, 0)

    @property
    def reconciled(self) -> bool:
        """Whether the statement's net is the ledger's, to the fen."""
        return self.net_fen == self.ledger_clearing_fen


STATEMENT_HEADERS = ("项目", "金额（元）")


def statement_sheet(statement: Statement) -> Sheet:
    """The statement as a two-column sheet a finance clerk prints and signs."""
    city, platform = Receiver.CITY.value, Receiver.PLATFORM.value
    rows: list[tuple[str, int]] = [
        ("收款金额", statement.payments_fen),
        ("退款金额", statement.refunds_fen),
        ("分账给城市（实施主体）", statement.shares_sent.get(city, 0)),
        ("分账给平台", statement.shares_sent.get(platform, 0)),
        ("城市分账回退", statement.shares_returned.get(city, 0)),
        ("平台分账回退", statement.shares_returned.get(platform, 0)),
        ("运营单位净收入", statement.net_fen),
        ("账本清算科目变动", statement.ledger_clearing_fen),
        ("应缴特许经营费", statement.concession_due_fen),
        ("已通过分账缴纳", statement.concession_paid_fen if statement.concession_due_fen else 0),
        ("尚欠特许经营费", statement.concession_outstanding_fen),
        ("追缴欠费收入", statement.arrears_recovered_fen),
        ("坏账核销金额", statement.written_off_fen),
    ]
    title = f"{statement.operator_code} {statement.month:%Y-%m} 结算单"
    return Sheet(title, STATEMENT_HEADERS, tuple(rows), frozenset({1}))
