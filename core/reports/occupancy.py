"""Occupancy and turnover (周转率): berth-seconds occupied and arrivals per place and hour."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from core.bills import day_bounds

HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Span:
    """A stay at a place: when it started and ended (None: still there)."""

    place_code: str
    entered_at: datetime
    exited_at: datetime | None


@dataclass(frozen=True, slots=True)
class HourUse:
    """A place's use in one hour."""

    arrivals: int
    occupied_seconds: int


def hourly_use(spans: Iterable[Span], day: date, now: datetime) -> dict[tuple[str, int], HourUse]:
    """Arrivals and occupied seconds per (place, Beijing hour) of `day`; open stays run to now."""
    start, end = day_bounds(day)
    arrivals: dict[tuple[str, int], int] = defaultdict(int)
    seconds: dict[tuple[str, int], float] = defaultdict(float)
    for span in spans:
        until = min(span.exited_at or now, end)
        if start <= span.entered_at < end:
            arrivals[(span.place_code, (span.entered_at - start) // HOUR)] += 1
        moment = max(span.entered_at, start)
        while moment < until:
            hour = (moment - start) // HOUR
            hour_end = min(start + HOUR * (hour + 1), until)
            seconds[(span.place_code, hour)] += (hour_end - moment).total_seconds()
            moment = hour_end
    keys = arrivals.keys() | seconds.keys()
    return {k: HourUse(arrivals.get(k, 0), int(seconds.get(k, 0.0))) for k in keys}


def occupancy_rate(occupied_seconds: int, berths: int, hours: int) -> float:
    """Share of berth-time occupied."""
    capacity = berths * hours * 3600
    return round(occupied_seconds / capacity, 4) if capacity else 0.0


def turnover(arrivals: int, berths: int, days: int) -> float:
    """Arrivals per berth per day (周转率)."""
    return round(arrivals / (berths * days), 4) if berths and days else 0.0
