"""The late-fee rule: off by default, capped at the unpaid fee, paused during appeals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.late_fees import LateFeeRule, LateFeeRuleError, Pause, counted_days, describe, late_fee

LEFT = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)
BASIS = "《宁波市停车场规划建设和管理条例》第X条；《中华人民共和国行政强制法》第四十五条"
RULE = LateFeeRule(True, BASIS, start_after_days=15, per_day_bp=300, cap_bp=10_000)

rules = st.builds(
    LateFeeRule,
    enabled=st.just(True),
    legal_basis=st.just(BASIS),
    start_after_days=st.integers(0, 60),
    per_day_bp=st.integers(1, 10_000),
    cap_bp=st.integers(0, 10_000),
)
hours = st.integers(0, 24 * 800).map(lambda h: timedelta(hours=h))
pauses = st.lists(
    st.tuples(hours, st.integers(0, 24 * 60)).map(
        lambda p: Pause(LEFT + p[0], LEFT + p[0] + timedelta(hours=p[1]))
    ),
    max_size=3,
)


def test_off_by_default_and_described_so() -> None:
    assert late_fee(LateFeeRule(), 1_000, LEFT, LEFT + timedelta(days=400)) == 0
    assert describe(LateFeeRule()) == "本市未开征停车欠费滞纳金"
    assert "3%" in describe(RULE) and BASIS in describe(RULE)


def test_it_starts_on_the_start_day_and_stops_at_the_cap() -> None:
    assert late_fee(RULE, 1_000, LEFT, LEFT + timedelta(days=15, hours=23)) == 0
    assert late_fee(RULE, 1_000, LEFT, LEFT + timedelta(days=16)) == 30
    assert late_fee(RULE, 1_000, LEFT, LEFT + timedelta(days=25)) == 300
    assert late_fee(RULE, 1_000, LEFT, LEFT + timedelta(days=400)) == 1_000


def test_an_open_appeal_pauses_it() -> None:
    appeal = Pause(LEFT + timedelta(days=17), None)
    assert late_fee(RULE, 1_000, LEFT, LEFT + timedelta(days=30), [appeal]) == 60
    closed = Pause(LEFT + timedelta(days=17), LEFT + timedelta(days=20))
    overlapping = Pause(LEFT + timedelta(days=18), LEFT + timedelta(days=19))
    assert counted_days(LEFT, LEFT + timedelta(days=30), 15, [closed, overlapping]) == 12


@given(rules, st.integers(0, 10_000_000), hours, pauses)
def test_never_more_than_the_unpaid_fee_and_pausing_never_adds(
    rule: LateFeeRule, unpaid: int, later: timedelta, paused: list[Pause]
) -> None:
    now = LEFT + later
    fee = late_fee(rule, unpaid, LEFT, now, paused)
    assert 0 <= fee <= unpaid * rule.cap_bp // 10_000 <= unpaid
    assert fee <= late_fee(rule, unpaid, LEFT, now)


@given(rules, st.integers(1, 10_000_000), hours, hours, pauses)
def test_it_never_goes_down_as_time_passes(
    rule: LateFeeRule, unpaid: int, first: timedelta, more: timedelta, paused: list[Pause]
) -> None:
    earlier = late_fee(rule, unpaid, LEFT, LEFT + first, paused)
    assert earlier <= late_fee(rule, unpaid, LEFT, LEFT + first + more, paused)


def test_turning_it_on_needs_the_legal_basis_and_a_cap_within_the_fee() -> None:
    with pytest.raises(LateFeeRuleError):
        LateFeeRule(True, "", 15, 300)
    with pytest.raises(LateFeeRuleError):
        LateFeeRule(True, BASIS, 15, 300, cap_bp=12_000)
