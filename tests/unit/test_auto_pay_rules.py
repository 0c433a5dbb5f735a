"""Pure rules of auto-pay: service states, freshness, durations, entry numbers, combining."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core import auto_pay
from core.auto_pay import NothingToCombineError, ServiceState

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("wechat", "ours", "authorised"),
    [
        ("NORMAL", ServiceState.NORMAL, True),
        ("PAUSE", ServiceState.PAUSED, False),
        ("OUT_SERVICE", ServiceState.OUT_OF_SERVICE, False),
        ("SOMETHING_NEW", ServiceState.UNKNOWN, False),
        (None, ServiceState.UNKNOWN, False),
    ],
)
def test_only_normal_service_is_authorised(
    wechat: str | None, ours: ServiceState, authorised: bool
) -> None:
    assert auto_pay.service_state(wechat) is ours
    assert auto_pay.is_authorised(ours.value) is authorised


def test_a_stored_state_is_fresh_for_ten_minutes_and_never_from_the_future() -> None:
    assert auto_pay.is_fresh(NOW - timedelta(minutes=9, seconds=59), NOW)
    assert not auto_pay.is_fresh(NOW - timedelta(minutes=10), NOW)
    assert not auto_pay.is_fresh(NOW + timedelta(seconds=1), NOW)


def test_charging_duration_is_whole_seconds_and_never_zero() -> None:
    assert auto_pay.charging_seconds(NOW, NOW + timedelta(hours=2, milliseconds=900)) == 7200
    assert auto_pay.charging_seconds(NOW, NOW) == 1


def test_entry_numbers_fit_wechat_and_differ_per_stay() -> None:
    first, second = auto_pay.parking_no("a" * 40), auto_pay.parking_no("b" * 40)
    assert len(first) == 32 and first != second
    assert auto_pay.parking_no("abc") == "PEabc"


def test_combining_takes_all_owed_or_the_chosen_ones() -> None:
    owed = {"s1": 500, "s2": 700, "s3": 0}
    assert auto_pay.combine_choice(owed, None) == {"s1": 500, "s2": 700}
    assert auto_pay.combine_choice(owed, ["s2"]) == {"s2": 700}


@pytest.mark.parametrize("chosen", [["s9"], ["s1", "s1"], ["s3"], []])
def test_combining_refuses_stays_not_owed_or_twice(chosen: list[str]) -> None:
    with pytest.raises(NothingToCombineError):
        auto_pay.combine_choice({"s1": 500, "s3": 0}, chosen)


def test_at_most_ten_stays_are_combined() -> None:
    owed = {f"s{i}": 100 for i in range(11)}
    with pytest.raises(NothingToCombineError):
        auto_pay.combine_choice(owed, None)
    assert len(auto_pay.combine_choice(owed, list(owed)[:10])) == 10


def test_an_exit_takes_its_own_fee_and_the_oldest_other_arrears_up_to_one_payment() -> None:
    owed = {f"s{n:02d}": 100 + n for n in range(12)}  # oldest first, as the store lists them
    owed["exit"] = 600
    taken = auto_pay.exit_choice("exit", owed)
    assert list(taken) == ["exit", *(f"s{n:02d}" for n in range(9))]
    assert len(taken) == auto_pay.MAX_COMBINED and taken["exit"] == 600
    # What the exit shows is what the payment takes beside its own fee.
    beside = auto_pay.arrears_beside("exit", {k: v for k, v in owed.items() if k != "exit"})
    assert beside == {k: v for k, v in taken.items() if k != "exit"}


@pytest.mark.parametrize(
    ("owed", "why"),
    [
        ({"exit": 600}, "no arrears"),
        ({"other": 300}, "not owed"),
        ({"exit": 0, "other": 300}, "not owed"),
    ],
)
def test_an_exit_without_arrears_or_not_owed_is_not_combined(
    owed: dict[str, int], why: str
) -> None:
    with pytest.raises(NothingToCombineError) as refused:
        auto_pay.exit_choice("exit", owed)
    assert why in (refused.value.detail or "")
