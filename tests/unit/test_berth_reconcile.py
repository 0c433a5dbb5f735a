"""Reconciling derived stays with stored ones as events arrive in any order: a stored stay is
never left carrying another car's plate, and a paid one is never dissolved by the rules."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from core.berth_rules import (
    BerthRules,
    DerivedStay,
    KnownStay,
    Observation,
    Role,
    derive,
    reconcile,
    step_after,
)

T0 = datetime(2026, 11, 25, 7, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
RULES = BerthRules(flicker_seconds=60, plate_match_seconds=120)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@dataclass
class Stored:
    """The model of a stored stay: what the timeline keeps between events."""

    known: KnownStay
    flagged: bool = False


class Berth:
    """A berth's store as the timeline keeps it, driven by the pure rules only."""

    def __init__(self) -> None:
        self.observations: list[Observation] = []
        self.roles: dict[int, tuple[str, int | None]] = {}
        self.stays: dict[int, Stored] = {}
        self._next = 1

    def add(self, observation: Observation) -> None:
        self.observations.append(observation)
        derivation = derive(self.observations, RULES)
        openers = {
            stay_id: obs
            for obs, (role, stay_id) in self.roles.items()
            if role == "start" and stay_id
        }
        known = [replace(s.known, opener_id=openers.get(i)) for i, s in self.stays.items()]
        plan = reconcile(derivation.stays, known)
        by_start: dict[int, int] = {}
        for placement in plan.placements:
            stay_id = placement.stay_id or self._create(placement.derived)
            by_start[placement.derived.start_id] = stay_id
            stored = self.stays[stay_id]
            derived = placement.derived
            plate = stored.known.plate or derived.plate
            stored.known = replace(
                stored.known,
                plate=plate,
                entered_at=derived.entered_at,
                exited_at=derived.exited_at,
                void=derived.flicker,
            )
            stored.flagged = bool(placement.held)
        for stay_id in plan.dissolved:
            self.stays[stay_id].known = replace(self.stays[stay_id].known, void=True)
        for stay_id in plan.held:
            self.stays[stay_id].flagged = True
        self.roles = {
            obs: (role.value, by_start.get(start) if start is not None else None)
            for obs, (role, start, _) in derivation.roles.items()
        }

    def pay(self, rng: random.Random) -> None:
        closed = [s for s in self.stays.values() if s.known.exited_at and not s.known.void]
        payable = [s for s in closed if s.known.plate and not s.flagged]
        if payable:
            chosen = rng.choice(payable)
            chosen.known = replace(chosen.known, paid=True)

    def _create(self, derived: DerivedStay) -> int:
        stay_id, self._next = self._next, self._next + 1
        self.stays[stay_id] = Stored(
            KnownStay(stay_id, None, derived.plate, derived.entered_at, derived.exited_at)
        )
        return stay_id


CARS = st.lists(
    st.tuples(
        st.integers(1, 120), st.integers(0, 240), st.sampled_from(["浙B1", "浙B2", "浙B3", None])
    ),
    min_size=1,
    max_size=6,
)


def _events(cars: list[tuple[int, int, str | None]], extra: int) -> list[Observation]:
    moment, events = 0.0, list[Observation]()
    for gap, parked, plate in cars:
        moment += gap
        events.append(Observation(len(events), "occupied", at(moment), plate))
        moment += parked + 0.5
        events.append(Observation(len(events), "vacated", at(moment)))
    # Stray occupieds: a second sensor wake-up while a car stands there.
    for n in range(extra):
        events.append(Observation(len(events), "occupied", at(5 + 37 * n), "浙B9"))
    return events


def _spans(stays: list[DerivedStay]) -> list[tuple[datetime, datetime | None, str | None]]:
    return [(s.entered_at, s.exited_at, s.plate) for s in stays if not s.flicker]


@settings(max_examples=400, deadline=None)
@given(CARS, st.integers(0, 2), st.randoms(use_true_random=False), st.booleans())
def test_any_arrival_order_leaves_the_stays_of_the_ordered_stream(
    cars: list[tuple[int, int, str | None]], extra: int, rng: random.Random, paying: bool
) -> None:
    events = _events(cars, extra)
    arrival = list(events)
    rng.shuffle(arrival)
    berth = Berth()
    for n, observation in enumerate(arrival):
        paid = [s for s in berth.stays.values() if s.known.paid and not s.known.void]
        berth.add(Observation(n, observation.kind, observation.at, observation.plate))
        # A paid stay is only ever voided as the flicker its own events turned out to be (and
        # refunded then), never because another car's events seem to cover it.
        now = derive(berth.observations, RULES).stays
        flickers = {(s.entered_at, s.exited_at) for s in now if s.flicker}
        for stored in paid:
            if stored.known.void:
                assert (stored.known.entered_at, stored.known.exited_at) in flickers
        if paying and rng.random() < 0.3:
            berth.pay(rng)
        # Never a silent wrong plate: a stored stay's plate is the plate the rules give its
        # time now, unless the stay is flagged for a human.
        derived = {
            (s.entered_at, s.exited_at): s.plate for s in derive(berth.observations, RULES).stays
        }
        for stored in berth.stays.values():
            k = stored.known
            if k.void or stored.flagged or k.plate is None:
                continue
            assert derived.get((k.entered_at, k.exited_at), k.plate) == k.plate, (k, derived)
    final = sorted(
        (s.known.entered_at, s.known.exited_at, s.known.plate)
        for s in berth.stays.values()
        if not s.known.void and not s.flagged
    )
    expected = _spans(derive(events, RULES).stays)
    if not any(s.flagged for s in berth.stays.values()):
        assert final == sorted(expected)
    else:  # held stays are a human's; every other stay is one of the ordered stream's
        assert set(final) <= set(expected)


def test_a_stay_is_never_continued_by_another_cars_stay() -> None:
    a_in = Observation(1, "occupied", at(0), "浙BAAAA1")
    c_in = Observation(2, "occupied", at(60), "浙BCCCC3")
    stored = KnownStay(7, 2, "浙BCCCC3", at(60), None)
    plan = reconcile(derive([a_in, c_in], RULES).stays, [stored])
    assert [(p.derived.plate, p.stay_id) for p in plan.placements] == [("浙BAAAA1", None)]
    assert plan.dissolved == [7]
    paid = replace(stored, exited_at=at(90), paid=True)
    vacated = Observation(3, "vacated", at(90))
    held = reconcile(derive([a_in, c_in, vacated], RULES).stays, [paid])
    assert held.held == {7: "paid stay no longer matches the berth's events"}
    assert held.dissolved == [] and held.placements[0].held.startswith("overlaps a paid stay")


def test_the_tail_step_is_the_derivation_of_the_open_stay_and_the_event() -> None:
    opener = Observation(-1, "occupied", at(0), "浙B1")
    assert step_after(None, Observation(0, "occupied", at(5)), RULES) is Role.START
    assert step_after(opener, Observation(0, "vacated", at(30)), RULES) is Role.END
    assert step_after(opener, Observation(0, "vacated", at(0.5)), RULES) is None  # flicker
    assert step_after(opener, Observation(0, "occupied", at(30)), RULES) is None  # noise
    assert step_after(None, Observation(0, "vacated", at(30)), RULES) is None
