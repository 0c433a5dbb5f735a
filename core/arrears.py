"""Arrears of on-street stays (先离后缴 left unpaid): how officers chase them, step by step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from core.errors import ConflictError


class ArrearsStep(StrEnum):
    """What officers have done about an unpaid stay, in the order it is done."""

    NOTICE_SERVED = "notice_served"  # 催缴通知 served: on the windscreen, by SMS or by post
    ESCALATED = "escalated"  # 纳入道路违停行为联网查处: handed to the traffic police


class ArrearsStage(StrEnum):
    """Where an unpaid stay stands: nothing done yet, notice served, or escalated."""

    OPEN = "open"
    NOTICE_SERVED = "notice_served"
    ESCALATED = "escalated"


class ArrearsOrder(StrEnum):
    """How an officer's list is sorted."""

    OLDEST = "oldest"  # longest unpaid first
    LARGEST = "largest"  # largest amount first


class ArrearsStepError(ConflictError):
    """The step does not follow from where the arrears stand."""

    code = "arrears_step_refused"
    message_zh = "该欠费记录当前不能执行此操作"


@dataclass(frozen=True, slots=True)
class ArrearsAction:
    """One step taken on an unpaid stay: who, when, why, with what evidence."""

    step: ArrearsStep
    actor: str
    at: datetime
    note: str
    evidence: str | None = None


def stage_of(actions: list[ArrearsAction]) -> ArrearsStage:
    """The stage the recorded steps reach."""
    steps = {action.step for action in actions}
    if ArrearsStep.ESCALATED in steps:
        return ArrearsStage.ESCALATED
    if ArrearsStep.NOTICE_SERVED in steps:
        return ArrearsStage.NOTICE_SERVED
    return ArrearsStage.OPEN


def check_step(
    step: ArrearsStep, actions: list[ArrearsAction], now: datetime, escalate_after: timedelta
) -> None:
    """Raise unless `step` may be taken now.

    A notice may be served again (a second reminder); escalation needs a notice served at
    least `escalate_after` ago, so the driver had the time the notice gave, and happens once.
    """
    stage = stage_of(actions)
    if stage is ArrearsStage.ESCALATED:
        raise ArrearsStepError(detail="already escalated")
    if step is ArrearsStep.NOTICE_SERVED:
        return
    served = [a.at for a in actions if a.step is ArrearsStep.NOTICE_SERVED]
    if not served:
        raise ArrearsStepError("须先送达催缴通知", detail="escalation before any notice")
    if now < min(served) + escalate_after:
        due = min(served) + escalate_after
        raise ArrearsStepError(
            f"催缴通知送达满 {escalate_after.days} 天后方可移交", detail=f"not before {due}"
        )


def age_days(exited_at: datetime, now: datetime) -> int:
    """Whole days since the car left unpaid."""
    return max((now - exited_at) // timedelta(days=1), 0)


@dataclass(frozen=True, slots=True)
class ArrearsFilter:
    """What an officer narrows the list to; empty fields do not narrow."""

    zone: str | None = None
    street: str | None = None
    district: str | None = None
    min_fen: int = 1
    left_before: datetime | None = None  # at least this old
    order: ArrearsOrder = ArrearsOrder.OLDEST
    after: str | None = None  # the cursor of the previous page's last row
    limit: int = 50


@dataclass(frozen=True, slots=True)
class ArrearsItem:
    """An unpaid on-street stay as the officer's list shows it."""

    stay_id: int
    ref: str
    plate: str
    due_fen: int
    entered_at: datetime
    exited_at: datetime
    berth: str
    street: str | None
    zone: str
    operator: str
    fee_fen: int  # the stay's fee; more than due_fen only when a fee grew after payment

    def cursor(self, order: ArrearsOrder) -> str:
        """Where the next page starts, after this row."""
        key = self.exited_at.isoformat() if order is ArrearsOrder.OLDEST else str(self.fee_fen)
        return f"{key}~{self.stay_id}"


class ArrearsCursorError(ValueError):
    """A page cursor that this list did not hand out."""


def read_cursor(cursor: str, order: ArrearsOrder) -> tuple[datetime | int, int]:
    """The sort key and stay id a cursor names."""
    key, _, stay_id = cursor.rpartition("~")
    try:
        value: datetime | int = (
            datetime.fromisoformat(key) if order is ArrearsOrder.OLDEST else int(key)
        )
        found = value, int(stay_id)
    except ValueError:
        raise ArrearsCursorError(cursor) from None
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ArrearsCursorError(cursor)
    return found


@dataclass(frozen=True, slots=True)
class ReminderPolicy:
    """When a bound plate's drivers are reminded of an unpaid stay: first, again, how often."""

    after: timedelta = timedelta(days=3)
    every: timedelta = timedelta(days=7)
    most: int = 3


def reminder_due(exited_at: datetime, now: datetime, policy: ReminderPolicy) -> int | None:
    """The number of the reminder due by now (1 for the first), or None before the first.

    Only the latest is due: reminders missed while nothing ran are not sent in a burst.
    """
    if policy.most < 1 or now < exited_at + policy.after:
        return None
    return min(policy.most, 1 + (now - exited_at - policy.after) // policy.every)


def reminders_end(now: datetime, policy: ReminderPolicy) -> datetime:
    """Stays that left before this have had their last reminder: the scan need not go further."""
    return now - policy.after - policy.every * policy.most
