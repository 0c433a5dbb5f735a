"""Passes and stored value sold to drivers: calendar months in Beijing time, quotes, bounds."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.errors import ConflictError, NotFoundError, ValidationFailedError
from core.money import format_yuan

SHANGHAI = ZoneInfo("Asia/Shanghai")
TOP_UP_MIN_FEN = 100  # 1 yuan
TOP_UP_MAX_FEN = 500_000  # 5,000 yuan


class PassProductNotFoundError(NotFoundError):
    """The lot sells no pass with this code."""

    code = "pass_product_not_found"
    message_zh = "该停车场没有此月卡产品"


class PassNotForSaleError(ConflictError):
    """The product is sold at the lot office only."""

    code = "pass_not_for_sale"
    message_zh = "该月卡暂不支持线上购买，请到停车场管理处办理"


class PassMonthsError(ValidationFailedError):
    """More months than the product allows in one order, or fewer than one."""

    code = "pass_months_invalid"
    message_zh = "购买月数超出允许范围"


class PassVehicleClassError(ValidationFailedError):
    """The product is for another vehicle class than the plate's."""

    code = "pass_vehicle_class"
    message_zh = "该月卡不适用于此车型"


class TopUpAmountError(ValidationFailedError):
    """A top-up outside the allowed bounds."""

    code = "top_up_amount_invalid"
    message_zh = "充值金额须在1元至5000元之间"


class RefundExceedsBalanceError(ConflictError):
    """A top-up is refunded only up to what is left unspent on its card."""

    code = "refund_exceeds_balance"
    message_zh = "退款金额超过储值卡未消费余额"


@dataclass(frozen=True, slots=True)
class PassProduct:
    """A monthly pass a lot sells: vehicle class, price per calendar month, online or not."""

    code: str
    name: str
    vehicle_class: str
    month_fen: int
    online: bool
    max_months: int


@dataclass(frozen=True, slots=True)
class PassTerm:
    """What an order of some months gives: a new pass or the current one extended."""

    valid_from: datetime
    valid_until: datetime
    renewal: bool


def _month_end(year: int, month: int, anchor: int) -> date:
    """Day `anchor` of a month, or the 1st of the next when the month is too short."""
    if anchor <= calendar.monthrange(year, month)[1]:
        return date(year, month, anchor)
    return date(year + month // 12, month % 12 + 1, 1)


def anchored_end(start: date, months: int, anchor: int | None = None) -> date:
    """The exclusive last day of `months` calendar months from `start` (see docs/drivers.md).

    A pass from day D runs to the day before D in the month `months` later; a month without
    day D (29th-31st) ends on its last day, i.e. the next month's 1st is excluded. `anchor`
    is the day the months count from when it is not `start`'s own day.
    """
    if months < 1:
        raise ValueError("a pass runs for at least one month")
    day = start.day if anchor is None else anchor
    index = start.year * 12 + start.month - 1 + months
    return _month_end(index // 12, index % 12 + 1, day)


def local_midnight(day: date) -> datetime:
    """The start of a day in Beijing time."""
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)


def renewed_until(valid_from: datetime, valid_until: datetime, months: int) -> datetime:
    """The new end of a pass extended by `months` from its end, keeping its rhythm.

    A pass whose end lies on its own schedule (the day it started on, as `anchored_end` counts)
    gets the end `months` further on that schedule, so renewing one month at a time ends where
    buying the months at once would. An end set by hand counts from its own day.
    """
    first = valid_from.astimezone(SHANGHAI).date()
    end = valid_until.astimezone(SHANGHAI)
    if end == local_midnight(end.date()):
        months_so_far = (end.year - first.year) * 12 + end.month - first.month
        for k in (months_so_far - 1, months_so_far):
            if k >= 1 and anchored_end(first, k) == end.date():
                return local_midnight(anchored_end(first, k + months))
    return local_midnight(anchored_end(end.date(), months))


def last_day(valid_until: datetime) -> date:
    """The last day a pass covers in Beijing time (its end is exclusive)."""
    return (valid_until - timedelta(microseconds=1)).astimezone(SHANGHAI).date()


def pass_term(
    months: int, now: datetime, current: tuple[datetime, datetime] | None = None
) -> PassTerm:
    """The term an order of `months` gives now; `current` is (from, until) of a pass in force.

    A pass still in force is extended from its end; otherwise a new one starts now.
    """
    if current is not None and current[1] > now:
        return PassTerm(current[0], renewed_until(current[0], current[1], months), True)
    until = local_midnight(anchored_end(now.astimezone(SHANGHAI).date(), months))
    return PassTerm(now, until, False)


def check_months(product: PassProduct, months: int) -> None:
    """Raise unless the product may be bought for this many months in one order."""
    if not 1 <= months <= product.max_months:
        raise PassMonthsError(
            f"购买月数须在1至{product.max_months}个月之间", detail=f"{months} months"
        )


def check_sellable(product: PassProduct, vehicle_class: str) -> None:
    """Raise unless drivers may buy this product online for a vehicle of this class."""
    if not product.online:
        raise PassNotForSaleError(detail=product.code)
    if product.vehicle_class != vehicle_class:
        raise PassVehicleClassError(detail=f"{product.code} is {product.vehicle_class}")


def check_top_up(amount_fen: int) -> None:
    """Raise unless a top-up amount is within the bounds."""
    if not TOP_UP_MIN_FEN <= amount_fen <= TOP_UP_MAX_FEN:
        raise TopUpAmountError(
            f"充值金额须在{format_yuan(TOP_UP_MIN_FEN)}元至{format_yuan(TOP_UP_MAX_FEN)}元之间",
            detail=f"{amount_fen} fen",
        )


def check_refund_within_balance(amount_fen: int, balance_fen: int) -> None:
    """Raise unless a top-up's refund leaves the card's balance at zero or more."""
    if amount_fen > balance_fen:
        raise RefundExceedsBalanceError(
            f"退款金额超过储值卡未消费余额（{format_yuan(balance_fen)}元）",
            detail=f"{amount_fen} of {balance_fen}",
        )
