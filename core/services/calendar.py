"""The holiday calendar that prices stays: the package's days plus the override table."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from core.billing import ChineseDayCalendar, DayType
from core.clock import Clock
from core.services.audit import record
from core.staff import StaffIdentity
from core.store.city import HolidayOverrideRow
from core.store.unit_of_work import UnitOfWork


class OverridableCalendar:
    """A DayCalendar whose override table can be swapped while the server runs."""

    def __init__(self, overrides: Mapping[date, DayType] | None = None) -> None:
        self._calendar = ChineseDayCalendar(overrides or {})

    def day_type(self, day: date) -> DayType:
        """The kind of a day; unknown days raise CalendarUnknownError."""
        return self._calendar.day_type(day)

    def use_overrides(self, overrides: Mapping[date, DayType]) -> None:
        """Replace the override table."""
        self._calendar = ChineseDayCalendar(overrides)


async def refresh_calendar(uow: UnitOfWork, calendar: OverridableCalendar) -> int:
    """Load the override table into the calendar; returns how many days it holds."""
    rows = await uow.calendar.overrides()
    calendar.use_overrides({row.day: DayType(row.day_type) for row in rows})
    return len(rows)


async def set_day_type(
    uow: UnitOfWork,
    clock: Clock,
    staff: StaffIdentity,
    day: date,
    day_type: DayType,
    note: str,
) -> HolidayOverrideRow:
    """Record (or replace) a day's type, audited, and commit."""
    row = await uow.calendar.override_for(day)
    before = None if row is None else row.day_type
    if row is None:
        row = HolidayOverrideRow(
            day=day,
            day_type=day_type.value,
            note=note,
            created_by=staff.actor,
            created_at=clock.now(),
        )
        uow.calendar.add(row)
    else:
        row.day_type, row.note, row.created_by = day_type.value, note, staff.actor
    await record(
        uow,
        clock,
        staff,
        "calendar.set_day_type",
        f"day:{day.isoformat()}",
        note,
        {"before": before, "after": day_type.value},
    )
    await uow.commit()
    return row
