"""Shanghai local time as whole-second counts, and per-quote day-type lookups."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from core.billing.day_calendar import DayCalendar, DayType
from core.billing.errors import NaiveDatetimeError
from core.billing.tariff import DAY_SECONDS

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = DAY_SECONDS
SECOND = timedelta(seconds=1)


def to_local(at: datetime, name: str) -> tuple[datetime, int]:
    """Return ``at`` in Shanghai local time (whole seconds) and its local second count.

    The count is ordinal-day based, so ``count // DAY`` is the local date's ordinal and
    midnights are multiples of DAY.
    """
    offset = at.utcoffset() if at.tzinfo is not None else None
    if offset is None:
        raise NaiveDatetimeError(name)
    return _local(at, offset)


# A plate's earlier stays are converted again for every stay priced after them, and the
# conversion (zoneinfo past its last transition) costs about 4 µs against 0.5 µs for a look-up.
# Keyed by the instant: aware datetimes compare by it, except two of one zone that differ only
# in `fold` (a repeated hour), which the offset tells apart.
@lru_cache(maxsize=16384)
def _local(at: datetime, offset: timedelta) -> tuple[datetime, int]:
    local = at.astimezone(SHANGHAI)
    if local.microsecond:
        local = local.replace(microsecond=0)
    seconds = local.toordinal() * DAY + local.hour * 3600 + local.minute * 60 + local.second
    return local, seconds


class LocalClock:
    """Turns local second counts back into aware datetimes relative to one origin."""

    __slots__ = ("origin", "origin_s")

    def __init__(self, origin: datetime, origin_s: int) -> None:
        self.origin = origin
        self.origin_s = origin_s

    def at(self, seconds: int) -> datetime:
        """The aware local datetime of a local second count."""
        return self.origin + SECOND * (seconds - self.origin_s)


class DayKinds:
    """Day types for day ordinals, asked of the calendar once per day per quote."""

    __slots__ = ("_calendar", "_seen")

    def __init__(self, calendar: DayCalendar) -> None:
        self._calendar = calendar
        self._seen: dict[int, DayType] = {}

    def __call__(self, day: int) -> DayType:
        kind = self._seen.get(day)
        if kind is None:
            kind = self._seen[day] = self._calendar.day_type(date.fromordinal(day))
        return kind

    def seen(self, first_day: int, last_day: int) -> dict[date, DayType]:
        """The day types looked up for days in [first_day, last_day]."""
        if not self._seen:
            return {}
        return {
            date.fromordinal(day): kind
            for day, kind in sorted(self._seen.items())
            if first_day <= day <= last_day
        }
