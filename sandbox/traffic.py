"""A synthetic parking day, seeded: the same seed gives the same day, event for event (pure)."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from core.billing import SHANGHAI

# Share of the day's arrivals starting in each hour (a city centre weekday, morning and
# afternoon peaks); the generator draws from it, so only the shape matters.
HOUR_PROFILE = (
    1, 1, 1, 1, 1, 2, 4, 8, 12, 12, 10, 9,
    8, 9, 10, 10, 9, 9, 7, 5, 4, 3, 2, 1,
)  # fmt: skip
PROVINCE_CITY = "浙B"
PLATE_CHARS = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
MISREAD_PAIRS = {"0": "D", "D": "0", "8": "B", "B": "8", "2": "Z", "Z": "2", "5": "S", "S": "5"}


@dataclass(frozen=True, slots=True)
class LotSpec:
    """A gated lot to drive: its cameras and the plates holding passes there."""

    code: str
    cars: int
    pass_plates: tuple[str, ...] = ()

    @property
    def entry_camera(self) -> str:
        """The entry lane's camera (the demo city's naming)."""
        return f"{self.code}-E1-anpr_camera"

    @property
    def exit_camera(self) -> str:
        """The exit lane's camera."""
        return f"{self.code}-X1-anpr_camera"


@dataclass(frozen=True, slots=True)
class DaySpec:
    """What to simulate and how messy the devices are."""

    day: date
    lots: tuple[LotSpec, ...] = ()
    berths: tuple[str, ...] = ()  # on-street berths with sensors MAG-<berth>
    stays_per_berth: int = 6
    pass_share: float = 0.1
    misread_rate: float = 0.03
    duplicate_rate: float = 0.02
    late_rate: float = 0.03  # sent minutes after they happened (so out of order)
    flicker_rate: float = 0.05  # a sensor reports a false vacate/occupy pair
    offline_lanes: int = 1  # lane cameras that lose the centre for an hour and resend later
    auto_deduct_share: float = 0.0  # lot cars whose plate is in WeChat Pay's parking service
    auto_deduct_plates: tuple[str, ...] = ()  # those plates (one car each, never in two places)


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One message to send: where, what, and when to send it (which may be after it happened)."""

    send_at: datetime
    kind: str  # lane_read or berth_event
    device: str
    payload: dict[str, Any]
    tags: tuple[str, ...] = field(default_factory=tuple)  # misread, duplicate, late, offline...


def generate_day(spec: DaySpec, seed: int) -> list[SimEvent]:
    """The day's events in sending order."""
    rng = random.Random(seed)
    events: list[SimEvent] = []
    start = datetime.combine(spec.day, time(0), SHANGHAI)
    busy: dict[str, datetime] = {}  # an auto-deduct plate's car is inside until then
    for lot in spec.lots:
        events.extend(_lot_day(rng, spec, lot, start, busy))
    for berth in spec.berths:
        events.extend(_berth_day(rng, spec, berth, start))
    events = _with_offline_lanes(rng, spec, events, start)
    events = _with_duplicates(rng, spec, events)
    return sorted(events, key=lambda e: (e.send_at, e.device, e.payload["event_id"]))


def summary(events: list[SimEvent]) -> dict[str, int]:
    """How many events of each kind and tag a day holds."""
    counts: Counter[str] = Counter(e.kind for e in events)
    counts.update(f"tag:{tag}" for e in events for tag in e.tags)
    return dict(sorted(counts.items()))


def random_plate(rng: random.Random) -> str:
    """A plausible Ningbo plate (five characters after 浙B)."""
    return PROVINCE_CITY + "".join(rng.choice(PLATE_CHARS) for _ in range(5))


def _arrival(rng: random.Random, start: datetime) -> datetime:
    hour = rng.choices(range(24), weights=HOUR_PROFILE)[0]
    return start + timedelta(hours=hour, seconds=rng.randrange(3600))


def _dwell(rng: random.Random) -> timedelta:
    # Log-normal around 1.5 hours, clipped to 3 minutes .. 14 hours.
    minutes = min(max(rng.lognormvariate(4.5, 0.9), 3.0), 14 * 60)
    return timedelta(minutes=minutes)


def _misread(rng: random.Random, plate: str) -> str:
    spots = [i for i, ch in enumerate(plate) if ch in MISREAD_PAIRS and i >= 2]
    if not spots:
        return plate
    i = rng.choice(spots)
    return plate[:i] + MISREAD_PAIRS[plate[i]] + plate[i + 1 :]


def _lot_day(
    rng: random.Random, spec: DaySpec, lot: LotSpec, start: datetime, busy: dict[str, datetime]
) -> list[SimEvent]:
    events: list[SimEvent] = []
    end_of_day = start + timedelta(days=1) - timedelta(seconds=1)
    for n in range(lot.cars):
        holder = lot.pass_plates and rng.random() < spec.pass_share
        # Drawn only when asked, so a day without auto-deduct stays the same day, seed for seed.
        auto = not holder and spec.auto_deduct_share and rng.random() < spec.auto_deduct_share
        plate = rng.choice(lot.pass_plates) if holder else random_plate(rng)
        entered = _arrival(rng, start)
        left = min(entered + _dwell(rng), end_of_day)
        tags: tuple[str, ...] = ("pass",) if holder else ()
        free = [p for p in spec.auto_deduct_plates if busy.get(p, start) < entered] if auto else []
        if free:
            plate, tags = rng.choice(free), ("auto_deduct",)
            # Late and offline reads are sent up to an hour after they happened: the plate's
            # next car waits past that, so its reads never overtake this car's.
            busy[plate] = left + timedelta(hours=2)
        read_plate = plate
        if rng.random() < spec.misread_rate:
            read_plate, tags = _misread(rng, plate), (*tags, "misread")
        for camera, at, shown, suffix in (
            (lot.entry_camera, entered, plate, "in"),
            (lot.exit_camera, left, read_plate, "out"),
        ):
            payload = {
                "event_id": f"sim-{lot.code}-{n:05d}-{suffix}",
                "device": camera,
                "device_time": at.isoformat(),
                "plate": shown,
                "confidence": rng.randint(85, 99),
            }
            events.append(_maybe_late(rng, spec, SimEvent(at, "lane_read", camera, payload, tags)))
    return events


def _berth_day(rng: random.Random, spec: DaySpec, berth: str, start: datetime) -> list[SimEvent]:
    device = f"MAG-{berth}"
    events: list[SimEvent] = []
    at = start + timedelta(hours=7, minutes=rng.randrange(120))
    for n in range(spec.stays_per_berth):
        left = at + _dwell(rng)
        if left.date() != spec.day:
            break
        plate = random_plate(rng)
        events.append(_sensor(rng, spec, device, berth, f"{n}-in", at, "occupied", plate))
        if rng.random() < spec.flicker_rate:
            blink = at + (left - at) / 2
            events.append(
                _sensor(rng, spec, device, berth, f"{n}-fv", blink, "vacated", None, "flicker")
            )
            back = blink + timedelta(seconds=rng.randint(5, 40))
            events.append(
                _sensor(rng, spec, device, berth, f"{n}-fo", back, "occupied", plate, "flicker")
            )
        events.append(_sensor(rng, spec, device, berth, f"{n}-out", left, "vacated", None))
        at = left + timedelta(minutes=rng.randint(2, 60))
    return events


def _sensor(
    rng: random.Random,
    spec: DaySpec,
    device: str,
    berth: str,
    suffix: str,
    at: datetime,
    state: str,
    plate: str | None,
    tag: str | None = None,
) -> SimEvent:
    payload: dict[str, Any] = {
        "event_id": f"sim-{berth}-{suffix}",
        "device": device,
        "berth": berth,
        "state": state,
        "device_time": at.isoformat(),
    }
    if plate is not None:
        payload["plate"] = plate
    tags = (tag,) if tag else ()
    return _maybe_late(rng, spec, SimEvent(at, "berth_event", device, payload, tags))


def _maybe_late(rng: random.Random, spec: DaySpec, event: SimEvent) -> SimEvent:
    if rng.random() >= spec.late_rate:
        return event
    delay = timedelta(minutes=rng.randint(2, 30))
    return SimEvent(
        event.send_at + delay, event.kind, event.device, event.payload, (*event.tags, "late")
    )


def _with_offline_lanes(
    rng: random.Random, spec: DaySpec, events: list[SimEvent], start: datetime
) -> list[SimEvent]:
    """A camera that lost the centre for an hour sends that hour's reads when it is back."""
    cameras = sorted({e.device for e in events if e.kind == "lane_read"})
    chosen = rng.sample(cameras, min(spec.offline_lanes, len(cameras)))
    out: list[SimEvent] = []
    for camera in chosen:
        down = start + timedelta(hours=rng.randint(8, 16))
        up = down + timedelta(hours=1)
        for event in events:
            if event.device == camera and down <= event.send_at < up:
                payload = {**event.payload, "offline": True}
                event = SimEvent(up, event.kind, event.device, payload, (*event.tags, "offline"))
            out.append(event)
        events, out = out, []
    return events


def _with_duplicates(rng: random.Random, spec: DaySpec, events: list[SimEvent]) -> list[SimEvent]:
    out: list[SimEvent] = []
    for event in events:
        out.append(event)
        if rng.random() < spec.duplicate_rate:
            again = event.send_at + timedelta(seconds=rng.randint(1, 20))
            out.append(
                SimEvent(again, event.kind, event.device, event.payload, (*event.tags, "duplicate"))
            )
    return out
