"""Day types from chinesecalendar with overrides; unknown days are never guessed."""

from __future__ import annotations

from datetime import date

import pytest

from core.billing import CalendarUnknownError, ChineseDayCalendar, DayType, FixedDayCalendar


@pytest.mark.parametrize(
    ("day", "kind"),
    [
        (date(2025, 3, 3), DayType.WORKDAY),  # Monday
        (date(2025, 3, 8), DayType.WEEKEND),  # Saturday
        (date(2025, 10, 1), DayType.HOLIDAY),  # National Day
        (date(2025, 10, 4), DayType.HOLIDAY),  # a Saturday inside the holiday
        (date(2025, 9, 28), DayType.ADJUSTED_WORKDAY),  # Sunday worked for National Day
        (date(2025, 10, 11), DayType.ADJUSTED_WORKDAY),  # Saturday worked for National Day
        (date(2024, 2, 10), DayType.HOLIDAY),  # Spring Festival
    ],
)
def test_package_days(day: date, kind: DayType) -> None:
    assert ChineseDayCalendar().day_type(day) is kind


def test_unknown_year_raises_instead_of_guessing() -> None:
    with pytest.raises(CalendarUnknownError) as caught:
        ChineseDayCalendar().day_type(date(2027, 3, 1))
    assert caught.value.day == date(2027, 3, 1)


def test_overrides_cover_unknown_years_and_beat_the_package() -> None:
    calendar = ChineseDayCalendar({date(2027, 3, 1): DayType.WORKDAY, date(2025, 3, 3): "holiday"})
    assert calendar.day_type(date(2027, 3, 1)) is DayType.WORKDAY
    assert calendar.day_type(date(2025, 3, 3)) is DayType.HOLIDAY
    with pytest.raises(CalendarUnknownError):
        calendar.day_type(date(2027, 3, 2))


def test_bad_override_value_is_refused() -> None:
    with pytest.raises(ValueError):
        ChineseDayCalendar({date(2027, 3, 1): "festival"})


def test_fixed_calendar() -> None:
    calendar = FixedDayCalendar({date(2030, 1, 1): DayType.HOLIDAY}, default=None)
    assert calendar.day_type(date(2030, 1, 1)) is DayType.HOLIDAY
    with pytest.raises(CalendarUnknownError):
        calendar.day_type(date(2030, 1, 2))
    assert FixedDayCalendar({}, DayType.WEEKEND).day_type(date(2030, 1, 2)) is DayType.WEEKEND
