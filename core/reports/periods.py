"""Report periods: inclusive Beijing date ranges, months, and how pass revenue is earned."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from core.bills import day_bounds
from core.errors import ValidationFailedError

MAX_REPORT_DAYS = 400


class ReportRangeError(ValidationFailedError):
    """A report range that ends before it starts or spans too long."""

    code = "report_range_invalid"
    message_zh = "报表日期范围无效（结束日期不得早于开始日期，且不超过400天）"


@dataclass(frozen=True, slots=True)
class DateRange:
    """Beijing calendar days from `first` to `last`, both included."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first or (self.last - self.first).days >= MAX_REPORT_DAYS:
            raise ReportRangeError(detail=f"{self.first}..{self.last}")

    @property
    def days(self) -> int:
        """How many days the range holds."""
        return (self.last - self.first).days + 1

    def each_day(self) -> list[date]:
        """Every day of the range in order."""
        return [self.first + timedelta(days=n) for n in range(self.days)]


def next_month(first: date) -> date:
    """The first day of the month after the one `first` is in."""
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def month_bounds(first: date) -> tuple[datetime, datetime]:
    """The instants a Beijing calendar month starts and ends."""
    return day_bounds(first.replace(day=1))[0], day_bounds(next_month(first))[0]


def earned_by(amount_fen: int, start: datetime, end: datetime, moment: datetime) -> int:
    """Fen of a term paid in advance earned by `moment`, pro rata by time, rounded down.

    Each month's share is earned_by(month end) - earned_by(month start), so the shares of
    all months add up to the amount exactly.
    """
    if moment <= start or end <= start:
        return 0
    if moment >= end:
        return amount_fen
    return amount_fen * int((moment - start).total_seconds()) // int((end - start).total_seconds())


def earned_in_month(amount_fen: int, start: datetime, end: datetime, first: date) -> int:
    """Fen of a term paid in advance that the month starting on `first` earns."""
    month_start, month_end = month_bounds(first)
    return earned_by(amount_fen, start, end, month_end) - earned_by(
        amount_fen, start, end, month_start
    )
