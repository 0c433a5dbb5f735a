"""Day types (workday, weekend, holiday, adjusted workday) and the calendars that know them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

import chinese_calendar

from core.billing.errors import CalendarUnknownError


class DayType(StrEnum):
    """The kind of a natural day; tariffs may price each kind differently."""

    WORKDAY = "workday"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"
    ADJUSTED_WORKDAY = "adjusted_workday"  # 调休: a weekend day worked in exchange for a holiday


class DayCalendar(Protocol):
    """Anything that can tell the type of a date (or raise CalendarUnknownError)."""

    def day_type(self, day: date) -> DayType:
        """Return the type of ``day``; raise CalendarUnknownError when unknown."""
        ...


_NO_OVERRIDES: Mapping[date, DayType] = MappingProxyType({})


class ChineseDayCalendar:
    """Day types from the chinesecalendar package, with an override table that wins."""

    __slots__ = ("_cache", "_overrides")

    def __init__(self, overrides: Mapping[date, DayType | str] = _NO_OVERRIDES) -> None:
        self._overrides = {day: DayType(kind) for day, kind in overrides.items()}
        self._cache: dict[date, DayType] = {}

    def day_type(self, day: date) -> DayType:
        """Return the type of ``day``: override first, then chinesecalendar, never a guess."""
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        kind = self._overrides.get(day)
        if kind is None:
            kind = _from_package(day)
        self._cache[day] = kind
        return kind


def _from_package(day: date) -> DayType:
    """Ask chinesecalendar; its NotImplementedError for unknown years becomes ours."""
    try:
        is_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError as exc:
        raise CalendarUnknownError(day) from exc
    weekend = day.weekday() >= 5
    if name is None:
        return DayType.WEEKEND if weekend else DayType.WORKDAY
    if is_holiday:
        return DayType.HOLIDAY
    # A named non-holiday is a day the State Council moved into work (调休).
    return DayType.ADJUSTED_WORKDAY if weekend else DayType.WORKDAY


class FixedDayCalendar:
    """A calendar from an explicit table only; anything else is unknown (useful for tests)."""

    __slots__ = ("_days", "_default")

    def __init__(self, days: Mapping[date, DayType | str], default: DayType | None = None) -> None:
        self._days = {day: DayType(kind) for day, kind in days.items()}
        self._default = default

    def day_type(self, day: date) -> DayType:
        """Return the listed type, the default, or raise CalendarUnknownError."""
        kind = self._days.get(day, self._default)
        if kind is None:
            raise CalendarUnknownError(day)
        return kind
