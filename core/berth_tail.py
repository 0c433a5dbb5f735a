"""The common case of a berth event, decided from the berth's last event alone.

Most sensor events arrive in device-time order and simply open or close a stay. For those the
full re-derivation (core/berth_rules.py over the stored timeline) gives a result that the
berth's tail (its newest observation and the stay that observation belongs to) already fixes:

- an occupied after the tail's end of a stay (or on a berth with no event yet) starts a stay;
- a vacated after the start (or a plate) of a still-open stay, at least `flicker_seconds` later,
  ends it.

Which of the two an event does is decided by the one rule (`core/berth_rules.py`: `derive`, run on
the tail's open stay and the event); this module only chooses that window. Anything else (ties,
late or out-of-order events, noise, flickers, closed berths, lot berths, clocks ahead) is left
to the full derivation: `step` answers None. A differential test
(tests/integration/test_berth_batches.py) compares both ways on random event streams.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from core.berth_events import BerthEvent, BerthState
from core.berth_rules import BerthRules, Observation, Role, outside_clock_window, step_after


class Step(StrEnum):
    """What a common-case event does to its berth."""

    OPEN = "open"
    CLOSE = "close"


@dataclass(slots=True)
class TailStay:
    """The stay a berth's newest observation belongs to; `id` is None until it is stored."""

    ref: str
    plate: str | None
    entered_at: datetime
    status: str
    exited_at: datetime | None
    vehicle_class: str = "small"
    id: int | None = None


@dataclass(slots=True)
class BerthTail:
    """A berth with what its newest observation says, as one locked read returns it."""

    berth_id: int
    code: str
    zone_id: int | None
    operator_id: int | None
    operator_code: str | None
    zone_class: int | None
    tariff_code: str | None
    street: str | None
    closed: bool
    has_closures: bool
    last_time: datetime | None = None
    last_kind: str | None = None
    last_role: str | None = None
    stay: TailStay | None = None

    @property
    def on_street(self) -> bool:
        """Whether the berth lies in a zone, open, and never had a closure."""
        return self.zone_id is not None and not self.closed and not self.has_closures


def step(tail: BerthTail, event: BerthEvent, now: datetime, rules: BerthRules) -> Step | None:
    """The common-case step of an event on this berth, or None when the full rules must decide.

    Only the window is chosen here (an event after everything the berth has, which finds the
    berth empty or one stay open); what the event does is `step_after`'s, i.e. `derive`'s.
    """
    if not tail.on_street or outside_clock_window(event.device_time, now, rules):
        return None
    if tail.last_time is not None and event.device_time <= tail.last_time:
        return None  # late, out of order or a tie: its place depends on more than the tail
    empty = tail.last_time is None or (
        tail.last_kind == "vacated" and tail.last_role == Role.END.value
    )
    stay = tail.stay
    taken = (
        stay is not None
        and tail.last_role in (Role.START.value, Role.PLATE.value)
        and stay.status == "open"
        and stay.exited_at is None
    )
    if not (empty or taken):
        return None
    opener = None
    if taken and stay is not None:
        opener = Observation(-1, BerthState.OCCUPIED.value, stay.entered_at, stay.plate)
    plate = event.plate.number if event.plate else None
    arrival = Observation(0, event.state.value, event.device_time, plate)
    role = step_after(opener, arrival, rules)
    return {Role.START: Step.OPEN, Role.END: Step.CLOSE}.get(role) if role else None


def advance(tail: BerthTail, event: BerthEvent, taken: Step, stay: TailStay) -> None:
    """Move the tail past an event that took a common-case step."""
    tail.last_time, tail.last_kind = event.device_time, event.state.value
    if taken is Step.OPEN:
        tail.last_role, tail.stay = Role.START.value, stay
    else:
        tail.last_role = Role.END.value
        stay.exited_at = event.device_time
