"""The group commit rule: arrival order, a group's size, the bound on waiting events."""

from __future__ import annotations

import pytest

from core.event_groups import GroupLimits, IntakeBusyError, WaitingEvents


def test_a_group_takes_the_oldest_waiting_events_up_to_its_size() -> None:
    waiting: WaitingEvents[int] = WaitingEvents(GroupLimits(max_events=3, max_waiting=10))
    for n in range(7):
        assert waiting.offer(n)
    assert waiting.take() == [0, 1, 2]
    assert waiting.take() == [3, 4, 5]
    assert len(waiting) == 1
    waiting.offer(7)
    assert waiting.take() == [6, 7]


def test_an_event_alone_goes_alone_and_nothing_waiting_is_an_empty_group() -> None:
    waiting: WaitingEvents[str] = WaitingEvents(GroupLimits())
    assert waiting.take() == []
    waiting.offer("only")
    assert waiting.take() == ["only"]  # no waiting for company
    assert len(waiting) == 0


def test_no_more_than_the_limit_wait_and_taking_makes_room() -> None:
    waiting: WaitingEvents[int] = WaitingEvents(GroupLimits(max_events=2, max_waiting=3))
    assert [waiting.offer(n) for n in range(5)] == [True, True, True, False, False]
    assert len(waiting) == 3
    assert waiting.take() == [0, 1]
    assert waiting.offer(5)
    assert waiting.take() == [2, 5]


def test_one_event_a_group_is_every_event_on_its_own() -> None:
    waiting: WaitingEvents[int] = WaitingEvents(GroupLimits(max_events=1, max_waiting=5))
    for n in range(3):
        waiting.offer(n)
    assert [waiting.take(), waiting.take(), waiting.take(), waiting.take()] == [[0], [1], [2], []]


@pytest.mark.parametrize(("events", "waiting"), [(0, 10), (5, 0), (-1, -1)])
def test_limits_below_one_are_refused(events: int, waiting: int) -> None:
    with pytest.raises(ValueError, match="at least one"):
        GroupLimits(max_events=events, max_waiting=waiting)


def test_busy_is_a_503_with_a_chinese_message_and_a_retry_hint() -> None:
    error = IntakeBusyError()
    assert (error.code, error.status, error.retry_after_seconds) == ("busy", 503, 1)
    assert error.message_zh == "系统繁忙，请稍后再试"
