"""A berth's stays derived from its events: the same stays whatever the arrival order."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from core.berth_rules import (
    BerthRules,
    DerivedStay,
    Observation,
    Role,
    awaiting_plate_too_long,
    derive,
    is_flicker,
    too_far_ahead,
)

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
RULES = BerthRules(flicker_seconds=60, max_clock_ahead_seconds=300, plate_match_seconds=120)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def obs(n: int, kind: str, minutes: float, plate: str | None = None) -> Observation:
    return Observation(n, kind, at(minutes), plate)


def spans(stays: list[DerivedStay]) -> list[tuple[datetime, datetime | None, str | None, bool]]:
    return [(s.entered_at, s.exited_at, s.plate, s.flicker) for s in stays]


def test_occupied_then_vacated_is_a_stay_and_an_open_one_follows() -> None:
    result = derive(
        [obs(1, "occupied", 0, "浙B1"), obs(2, "vacated", 60), obs(3, "occupied", 90)], RULES
    )
    assert spans(result.stays) == [(at(0), at(60), "浙B1", False), (at(90), None, None, False)]
    assert result.roles[1][0] is Role.START and result.roles[2] == (Role.END, 1, "")
    assert result.roles[3][:2] == (Role.START, 3)


def test_two_occupieds_keep_the_first_and_a_lonely_vacated_is_noise() -> None:
    result = derive(
        [
            obs(1, "vacated", -10),
            obs(2, "occupied", 0),
            obs(3, "occupied", 30),
            obs(4, "vacated", 60),
        ],
        RULES,
    )
    assert spans(result.stays) == [(at(0), at(60), None, False)]
    assert result.roles[1] == (Role.NOISE, None, "vacated without an occupied")
    assert result.roles[3][0] is Role.NOISE


def test_a_short_stay_is_a_flicker_and_same_instant_pairs_are_flickers() -> None:
    result = derive([obs(1, "occupied", 0), obs(2, "vacated", 0.5)], RULES)
    assert spans(result.stays) == [(at(0), at(0.5), None, True)]
    same = derive([obs(2, "vacated", 5), obs(1, "occupied", 5)], RULES)
    assert spans(same.stays) == [(at(5), at(5), None, True)]


def test_plate_reads_name_the_stay_that_covers_them_within_the_window() -> None:
    events = [
        obs(1, "occupied", 10),
        obs(2, "vacated", 70),
        obs(3, "plate", 9, "浙B1"),  # video a minute before the sensor
        obs(4, "plate", 40, "浙B2"),  # a different plate later: noise
        obs(5, "plate", 73, "浙B3"),  # after the window: waits for a stay
    ]
    result = derive(events, RULES)
    assert spans(result.stays) == [(at(10), at(70), "浙B1", False)]
    assert result.roles[3] == (Role.PLATE, 1, "")
    assert result.roles[4][0] is Role.NOISE
    assert result.roles[5][0] is Role.WAITING


def test_an_occupied_event_with_a_plate_keeps_it() -> None:
    result = derive([obs(1, "occupied", 0, "浙B1"), obs(2, "plate", 5, "浙B9")], RULES)
    assert result.stays[0].plate == "浙B1" and result.roles[2][0] is Role.NOISE


KINDS = st.sampled_from(["occupied", "vacated", "plate"])
EVENTS = st.lists(
    st.tuples(KINDS, st.integers(0, 240), st.sampled_from([None, "浙B1", "浙B2"])),
    min_size=1,
    max_size=14,
)


@settings(max_examples=300, deadline=None)
@given(EVENTS, st.randoms())
def test_arrival_order_never_changes_the_stays(
    events: list[tuple[str, int, str | None]], rng: random.Random
) -> None:
    observations = [
        obs(n, kind, minute, plate if kind == "plate" else None)
        for n, (kind, minute, plate) in enumerate(events)
    ]
    shuffled = list(observations)
    rng.shuffle(shuffled)
    # Ids follow arrival order in the store, so the shuffled arrival gets fresh ids.
    renumbered = [Observation(n, o.kind, o.at, o.plate) for n, o in enumerate(shuffled)]
    assert spans(derive(renumbered, RULES).stays) == spans(derive(observations, RULES).stays)
    # Stays never overlap and every event has a role.
    result = derive(observations, RULES)
    assert set(result.roles) == {o.id for o in observations}
    for earlier, later in zip(result.stays, result.stays[1:], strict=False):
        assert earlier.exited_at is not None and earlier.exited_at <= later.entered_at


def test_flicker_skew_and_plate_wait() -> None:
    assert is_flicker(at(0), at(0.9), RULES)
    assert not is_flicker(at(0), at(1), RULES)
    assert not too_far_ahead(at(5), at(0), RULES)
    assert too_far_ahead(at(5.1), at(0), RULES)
    assert not too_far_ahead(at(-600), at(0), RULES)  # late is fine: placed by device time
    assert not awaiting_plate_too_long(at(0), at(15), BerthRules(plate_wait_minutes=15))
    assert awaiting_plate_too_long(at(0), at(15.1), BerthRules(plate_wait_minutes=15))
