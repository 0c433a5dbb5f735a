"""A berth's stays derived from its sensor and video events, by device time, in any arrival order.

The rules (also in docs/devices.md) are a function of the set of events, so a resend, a late
event or a different arrival order gives the same stays:

- Events are taken in device-time order (an occupied before a vacated at the same instant).
- An occupied on an empty berth starts a stay; an occupied while the berth is taken is noise
  (two occupieds: the first stands).
- A vacated ends the stay in progress; a vacated on an empty berth is noise (kept for review).
- A stay shorter than `flicker_seconds` is a flicker: sensor noise, not a stay (kept as void).
- A plate read names the stay that covers its time, give or take `plate_match_seconds`; the
  first plate by time wins, a different one later is noise; a read with no stay waits.

`reconcile` then says which stored stay each derived stay continues, so references stay stable
without ever moving a stay to another car: a stored stay is continued by the stay its own
opening event still opens, or else by an overlapping stay of the same car (same plate, or one
side without a plate yet). A stored stay that money was taken for is never dissolved or given
to another car by a re-derivation: it and the stays that now overlap it are held for a human.
`tail_step` is the same rule for the common case, decided from the berth's newest observation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class BerthRules:
    """The configured tolerances of berth event handling."""

    flicker_seconds: int = 60
    max_clock_ahead_seconds: int = 300
    plate_match_seconds: int = 300
    plate_wait_minutes: int = 15
    lookback_hours: int = 24  # also the most an event may arrive late and still be placed


class Role(StrEnum):
    """What an event turned out to do on the berth's timeline."""

    START = "start"
    END = "end"
    PLATE = "plate"
    NOISE = "noise"
    WAITING = "waiting"


# At one instant an occupied comes first: a car cannot leave and another arrive in no time,
# so such a pair is a flicker.
_KIND_ORDER = {"occupied": 0, "vacated": 1, "plate": 2}


@dataclass(frozen=True, slots=True)
class Observation:
    """One sensor or video event of a berth: occupied, vacated or plate."""

    id: int
    kind: str
    at: datetime
    plate: str | None = None


@dataclass(frozen=True, slots=True)
class DerivedStay:
    """A stay as the events say it was; `start_id` (its occupied) identifies it."""

    start_id: int
    entered_at: datetime
    exited_at: datetime | None
    end_id: int | None
    plate: str | None
    flicker: bool = False


@dataclass(slots=True)
class Derivation:
    """The stays of a stretch of timeline and what each event did, with why for the noise."""

    stays: list[DerivedStay] = field(default_factory=list)
    roles: dict[int, tuple[Role, int | None, str]] = field(default_factory=dict)


def derive(observations: Iterable[Observation], rules: BerthRules) -> Derivation:
    """Stays of a berth from its events, starting from an empty berth."""
    # The plate breaks ties before the id, which follows arrival order.
    ordered = sorted(observations, key=lambda o: (o.at, _KIND_ORDER[o.kind], o.plate or "", o.id))
    result = Derivation()
    current: Observation | None = None
    for event in ordered:
        if event.kind == "occupied":
            if current is None:
                current = event
                result.roles[event.id] = (Role.START, event.id, "")
            else:
                note = f"occupied while the berth was taken since {current.at.isoformat()}"
                result.roles[event.id] = (Role.NOISE, None, note)
        elif event.kind == "vacated":
            if current is None:
                result.roles[event.id] = (Role.NOISE, None, "vacated without an occupied")
                continue
            flicker = is_flicker(current.at, event.at, rules)
            result.stays.append(
                DerivedStay(current.id, current.at, event.at, event.id, current.plate, flicker)
            )
            result.roles[event.id] = (Role.END, current.id, "flicker" if flicker else "")
            current = None
    if current is not None:
        result.stays.append(DerivedStay(current.id, current.at, None, None, current.plate))
    _name_plates(result, [o for o in ordered if o.kind == "plate"], rules)
    return result


def _name_plates(result: Derivation, reads: Sequence[Observation], rules: BerthRules) -> None:
    slack = timedelta(seconds=rules.plate_match_seconds)
    real = [s for s in result.stays if not s.flicker]
    for read in reads:
        stay = _covering(real, read.at, slack)
        if stay is None:
            result.roles[read.id] = (Role.WAITING, None, "plate read without a stay")
        elif stay.plate is None or stay.plate == read.plate:
            index = result.stays.index(stay)
            named = DerivedStay(
                stay.start_id, stay.entered_at, stay.exited_at, stay.end_id, read.plate
            )
            result.stays[index] = named
            real[real.index(stay)] = named
            result.roles[read.id] = (Role.PLATE, stay.start_id, "")
        else:
            note = f"plate {read.plate} differs from {stay.plate} read earlier"
            result.roles[read.id] = (Role.NOISE, stay.start_id, note)


def _covering(
    stays: Sequence[DerivedStay], moment: datetime, slack: timedelta
) -> DerivedStay | None:
    """The stay that covers a moment, else the nearest one within the slack."""
    best: tuple[timedelta, DerivedStay] | None = None
    for stay in stays:
        if stay.entered_at <= moment and (stay.exited_at is None or moment < stay.exited_at):
            return stay
        if moment < stay.entered_at:
            gap = stay.entered_at - moment
        else:
            assert stay.exited_at is not None  # not covering, so it ended at or before
            gap = moment - stay.exited_at
        if gap <= slack and (best is None or gap < best[0]):
            best = (gap, stay)
    return best[1] if best else None


def step_after(open_stay: Observation | None, event: Observation, rules: BerthRules) -> Role | None:
    """What an event later than all the berth has does, given the stay it finds open (or none):
    START or END as `derive` says; None for anything else, which the full derivation decides."""
    result = derive([open_stay, event] if open_stay else [event], rules)
    role, _, note = result.roles[event.id]
    if role is Role.START or (role is Role.END and note != "flicker"):
        return role
    return None


def is_flicker(entered_at: datetime, exited_at: datetime, rules: BerthRules) -> bool:
    """Whether a stay is too short to be a car parking: sensor noise, not a stay."""
    return exited_at - entered_at < timedelta(seconds=rules.flicker_seconds)


def outside_clock_window(device_time: datetime, now: datetime, rules: BerthRules) -> str | None:
    """Why an event's device time cannot be placed (ahead beyond the skew, or later than the
    timeline looks back: a device with a lost clock), else None; such events wait for a human."""
    if too_far_ahead(device_time, now, rules):
        return "device clock ahead of the centre beyond the tolerated skew"
    if now - device_time > timedelta(hours=rules.lookback_hours):
        return f"device time more than {rules.lookback_hours} h in the past"
    return None


def too_far_ahead(device_time: datetime, now: datetime, rules: BerthRules) -> bool:
    """Whether a device clock is further ahead of the centre than the tolerated skew."""
    return device_time - now > timedelta(seconds=rules.max_clock_ahead_seconds)


def awaiting_plate_too_long(entered_at: datetime, now: datetime, rules: BerthRules) -> bool:
    """Whether an open stay has waited longer for its plate than configured."""
    return now - entered_at > timedelta(minutes=rules.plate_wait_minutes)


@dataclass(frozen=True, slots=True)
class KnownStay:
    """A stored stay of the berth as reconciliation sees it."""

    id: int
    opener_id: int | None  # the observation stored as its start, if one still is
    plate: str | None
    entered_at: datetime
    exited_at: datetime | None
    void: bool = False
    paid: bool = False  # money was taken for it


@dataclass(frozen=True, slots=True)
class Placement:
    """A derived stay and the stored stay it continues (None: a new one)."""

    derived: DerivedStay
    stay_id: int | None
    held: str = ""  # why it waits for a human instead of being priced


@dataclass(slots=True)
class Reconciliation:
    """Where each derived stay goes, the stored stays dissolved (voided) and those held."""

    placements: list[Placement] = field(default_factory=list)
    dissolved: list[int] = field(default_factory=list)
    held: dict[int, str] = field(default_factory=dict)


def reconcile(stays: Sequence[DerivedStay], known: Sequence[KnownStay]) -> Reconciliation:
    """Match derived stays to stored ones without ever handing a stay to another car."""
    unmatched = {k.id: k for k in known}
    by_opener = {k.opener_id: k for k in known if k.opener_id is not None}
    result = Reconciliation()
    chosen: list[tuple[DerivedStay, KnownStay | None]] = []
    for stay in stays:
        match = by_opener.get(stay.start_id)
        if match is None or match.id not in unmatched:
            match = _same_car_overlapping(unmatched.values(), stay)
        if match is not None:
            del unmatched[match.id]
        chosen.append((stay, match))
    for k in unmatched.values():
        if k.void:
            continue
        if k.paid:
            result.held[k.id] = "paid stay no longer matches the berth's events"
        else:
            result.dissolved.append(k.id)
    held = [unmatched[i] for i in result.held]
    for stay, match in chosen:
        clash = next((k for k in held if _overlaps(k.entered_at, k.exited_at, stay)), None)
        note = f"overlaps a paid stay held for review ({clash.plate})" if clash else ""
        result.placements.append(Placement(stay, match.id if match else None, note))
    return result


def _same_car_overlapping(stays: Iterable[KnownStay], derived: DerivedStay) -> KnownStay | None:
    """An overlapping stored stay of the same car: same plate first, then one without a plate."""
    candidates = [
        k
        for k in stays
        if _overlaps(k.entered_at, k.exited_at, derived)
        and (k.plate is None or k.plate == derived.plate)
    ]
    same = [k for k in candidates if k.plate is not None]
    return next(iter(same or candidates), None)


def _overlaps(entered_at: datetime, exited_at: datetime | None, derived: DerivedStay) -> bool:
    starts_before_end = derived.exited_at is None or entered_at < derived.exited_at
    return starts_before_end and (exited_at is None or exited_at > derived.entered_at)


def opener_ids(roles: Mapping[int, tuple[str, int | None]]) -> dict[int, int]:
    """Stored stay id -> the observation stored as its start, from stored roles."""
    return {
        stay_id: obs_id for obs_id, (role, stay_id) in roles.items() if role == "start" and stay_id
    }
