"""Late fees on arrears (滞纳金): off unless the city turns them on with their legal basis.

The rule: from `start_after_days` after the car left, each whole day adds `per_day_bp` of the
unpaid fee, rounded down to the fen, never more than `cap_bp` of it (at most the unpaid fee
itself: 加处罚款或者滞纳金的数额不得超出金钱给付义务的数额, 行政强制法 art. 45). Days while an
appeal of the stay is open do not count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.errors import ValidationFailedError

WHOLE_BP = 10_000
DAY = timedelta(days=1)


class LateFeeRuleError(ValidationFailedError):
    """A rule that is on without a legal basis, or whose numbers are out of bounds."""

    code = "late_fee_rule_invalid"
    message_zh = "滞纳金规则无效"


@dataclass(frozen=True, slots=True)
class LateFeeRule:
    """The city's late-fee rule; the default is off."""

    enabled: bool = False
    legal_basis: str = ""
    start_after_days: int = 0
    per_day_bp: int = 0
    cap_bp: int = WHOLE_BP

    def __post_init__(self) -> None:
        if not 0 <= self.start_after_days <= 3650:
            raise LateFeeRuleError("起算天数须在 0 至 3650 之间")
        if not 0 <= self.per_day_bp <= WHOLE_BP or not 0 <= self.cap_bp <= WHOLE_BP:
            raise LateFeeRuleError("滞纳金比例须在 0 至 100% 之间，且上限不超过欠费本金")
        if self.enabled and (len(self.legal_basis.strip()) < 4 or not self.per_day_bp):
            raise LateFeeRuleError("开启滞纳金须填写法律依据和每日比例")


@dataclass(frozen=True, slots=True)
class Pause:
    """A span the late fee does not run: an open appeal (end None while it is open)."""

    start: datetime
    end: datetime | None


def counted_days(
    exited_at: datetime, now: datetime, start_after_days: int, pauses: Iterable[Pause] = ()
) -> int:
    """Whole days the fee has run by now: from the start day, less the paused time."""
    begin = exited_at + start_after_days * DAY
    if now <= begin:
        return 0
    spans = sorted(
        (max(p.start, begin), min(p.end or now, now)) for p in pauses if (p.end or now) > begin
    )
    paused, reach = timedelta(0), begin
    for start, end in spans:  # merged, so overlapping appeals pause the time once
        start = max(start, reach)
        if end > start:
            paused += end - start
            reach = end
    return max((now - begin - paused) // DAY, 0)


def late_fee(
    rule: LateFeeRule,
    unpaid_fen: int,
    exited_at: datetime,
    now: datetime,
    pauses: Iterable[Pause] = (),
) -> int:
    """The late fee due by now on an unpaid amount, in fen (0 while the rule is off)."""
    if not rule.enabled or unpaid_fen <= 0:
        return 0
    days = counted_days(exited_at, now, rule.start_after_days, pauses)
    return min(
        unpaid_fen * rule.per_day_bp * days // WHOLE_BP, unpaid_fen * rule.cap_bp // WHOLE_BP
    )


def percent(bp: int) -> str:
    """Basis points as a percentage without trailing zeros: 50 -> '0.5%'."""
    whole, rest = divmod(bp, 100)
    return f"{whole}.{rest:02d}".rstrip("0").rstrip(".") + "%"


def describe(rule: LateFeeRule) -> str:
    """The rule in the words the driver reads."""
    if not rule.enabled:
        return "本市未开征停车欠费滞纳金"
    return (
        f"欠费自驶离之日起满{rule.start_after_days}日后，每日按未缴停车费的{percent(rule.per_day_bp)}"
        f"加收滞纳金，累计不超过未缴停车费的{percent(rule.cap_bp)}；申诉处理期间暂停计算。"
        f"依据：{rule.legal_basis.strip()}"
    )
