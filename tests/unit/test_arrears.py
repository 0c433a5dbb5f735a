"""The steps of chasing arrears: notice first, escalation once and only after the notice period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.arrears import (
    ArrearsAction,
    ArrearsCursorError,
    ArrearsItem,
    ArrearsOrder,
    ArrearsStage,
    ArrearsStep,
    ArrearsStepError,
    ReminderPolicy,
    age_days,
    check_step,
    read_cursor,
    reminder_due,
    reminders_end,
    stage_of,
)

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
PERIOD = timedelta(days=15)


def served(at: datetime) -> ArrearsAction:
    return ArrearsAction(ArrearsStep.NOTICE_SERVED, "officer", at, "贴单")


def test_escalation_needs_a_notice_served_the_period_before() -> None:
    with pytest.raises(ArrearsStepError):
        check_step(ArrearsStep.ESCALATED, [], T0, PERIOD)
    actions = [served(T0), served(T0 + timedelta(days=10))]  # a second reminder
    with pytest.raises(ArrearsStepError):
        check_step(ArrearsStep.ESCALATED, actions, T0 + PERIOD - timedelta(seconds=1), PERIOD)
    check_step(ArrearsStep.ESCALATED, actions, T0 + PERIOD, PERIOD)  # counted from the first
    check_step(ArrearsStep.NOTICE_SERVED, actions, T0 + PERIOD, PERIOD)
    assert stage_of(actions) is ArrearsStage.NOTICE_SERVED


def test_nothing_follows_an_escalation() -> None:
    done = [served(T0), ArrearsAction(ArrearsStep.ESCALATED, "officer", T0 + PERIOD, "移交")]
    assert stage_of(done) is ArrearsStage.ESCALATED
    for step in ArrearsStep:
        with pytest.raises(ArrearsStepError):
            check_step(step, done, T0 + 2 * PERIOD, PERIOD)


@given(st.integers(min_value=1, max_value=10**9), st.integers(min_value=1, max_value=10**9))
def test_cursors_name_the_row_they_came_from(fee: int, stay_id: int) -> None:
    item = ArrearsItem(stay_id, "r", "浙B12345", fee, T0, T0, "HS1-001", None, "HS1", "OP", fee)
    for order in ArrearsOrder:
        value, found_id = read_cursor(item.cursor(order), order)
        assert found_id == stay_id
        assert value == (T0 if order is ArrearsOrder.OLDEST else fee)


@pytest.mark.parametrize("cursor", ["", "x~1", "2026-11-01T02:00:00~1", "12~", "12"])
def test_foreign_cursors_are_refused(cursor: str) -> None:
    order = ArrearsOrder.OLDEST if "T" in cursor or cursor.startswith("x") else ArrearsOrder.LARGEST
    with pytest.raises(ArrearsCursorError):
        read_cursor(cursor, order)


def test_age_is_whole_days_and_never_negative() -> None:
    assert age_days(T0, T0 + timedelta(days=2, hours=23)) == 2
    assert age_days(T0, T0 - timedelta(hours=1)) == 0


def test_reminders_are_due_on_schedule_and_stop() -> None:
    policy = ReminderPolicy(after=timedelta(days=3), every=timedelta(days=7), most=3)
    assert reminder_due(T0, T0 + timedelta(days=2, hours=23), policy) is None
    assert reminder_due(T0, T0 + timedelta(days=3), policy) == 1
    assert reminder_due(T0, T0 + timedelta(days=9, hours=23), policy) == 1
    assert reminder_due(T0, T0 + timedelta(days=10), policy) == 2
    assert reminder_due(T0, T0 + timedelta(days=300), policy) == 3  # never a fourth
    assert reminders_end(T0 + timedelta(days=24), policy) == T0
    assert reminder_due(T0, T0 + timedelta(days=9), ReminderPolicy(most=0)) is None
