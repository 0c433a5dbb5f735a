"""Errors raised by the billing engine."""

from __future__ import annotations

from datetime import date


class BillingError(Exception):
    """Base class of every billing error."""


class TariffError(BillingError, ValueError):
    """A tariff definition is invalid at a named field path."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class CalendarUnknownError(BillingError, LookupError):
    """The day calendar does not know the type of a date, so pricing refuses to guess."""

    def __init__(self, day: date) -> None:
        super().__init__(f"day type of {day.isoformat()} is unknown; add a calendar override")
        self.day = day


class NaiveDatetimeError(BillingError, ValueError):
    """A datetime without a timezone was given where an aware one is required."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} must be timezone-aware")
        self.name = name


class StayError(BillingError, ValueError):
    """A stay's times are inconsistent, e.g. the exit lies before the entry."""


class VehicleClassError(BillingError, ValueError):
    """The tariff has no prices for the requested vehicle class."""

    def __init__(self, vehicle_class: str, known: tuple[str, ...]) -> None:
        super().__init__(f"unknown vehicle class {vehicle_class!r}; tariff knows {list(known)}")
        self.vehicle_class = vehicle_class


class RightError(BillingError, ValueError):
    """A pass, card or covered interval is inconsistent."""
