"""Hand-worked quotes for the demo tariffs (class 1/2/3 on-street zones and the standard lot).

Class 1 small car: 30 min free (charged from entry once exceeded); day 08:00-20:00 first
hour 5.00 then 1.50 per 30 min; night 20:00-08:00 1.00 per hour, 5.00 per night at most;
20.00 per natural day at most. Class 2: 4.00 first hour, 1.00 per 30 min, night cap 4.00,
day cap 15.00. Class 3: 2.00 per hour by day, 1.00 per 2 h at night (3.00 cap), day cap 10.00,
free on statutory holidays. Lot: 15 min free, 3.00 per hour, 30.00 per rolling 24 h.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from core.billing import (
    DayType,
    LineKind,
    Quote,
    Tariff,
    VehicleClassError,
    quote,
    quote_lost_ticket,
)

from .conftest import at, variant


def charged(q: Quote) -> dict[str, int]:
    return {day.isoformat(): fen for day, fen in q.charged_by_day.items()}


@pytest.mark.parametrize(
    ("entry", "exit", "total"),
    [
        (at(2025, 3, 3, 9), at(2025, 3, 3, 9, 30), 0),  # exactly the free period
        (at(2025, 3, 3, 9), at(2025, 3, 3, 9, 30, 1), 500),  # one second over: first hour
        (at(2025, 3, 3, 9), at(2025, 3, 3, 11), 800),  # 5.00 + 2 x 1.50
        (at(2025, 3, 3, 9), at(2025, 3, 3, 11, 10), 950),  # 70 min rest -> 3 units
        (at(2025, 3, 3, 8), at(2025, 3, 3, 20), 2000),  # 5.00 + 22 x 1.50 = 38.00 -> cap
        (at(2025, 3, 3, 21), at(2025, 3, 3, 23, 30), 300),  # night: 3 started hours
        (at(2025, 3, 3, 20), at(2025, 3, 4, 8), 500),  # whole night: flat 5.00
    ],
)
def test_class1_single_day(class1: Tariff, entry: datetime, exit: datetime, total: int) -> None:
    q = quote(class1, entry, exit)
    assert q.total_fen == total
    assert sum(line.amount_fen for line in q.lines) == total


def test_class1_evening_to_morning_splits_the_night_cap_by_unit_start(class1: Tariff) -> None:
    q = quote(class1, at(2025, 3, 3, 19, 30), at(2025, 3, 4, 9))
    # 19:30-20:00 first day hour 5.00; night 4 units before midnight 4.00, the 5.00 cap
    # leaves 1.00 for the units after midnight; 08:00-09:00 two 30-min units 3.00
    # (the first-hour price was used the evening before).
    assert q.total_fen == 1300
    assert charged(q) == {"2025-03-03": 900, "2025-03-04": 400}
    night = [line for line in q.lines if line.rule == "night"]
    assert [(line.units, line.gross_fen, line.amount_fen) for line in night] == [
        (4, 400, 400),
        (8, 800, 100),
    ]
    assert night[1].caps_applied == ("band_cap",)


def test_class1_two_days_hits_both_daily_caps(class1: Tariff) -> None:
    q = quote(class1, at(2025, 3, 3, 10), at(2025, 3, 4, 23))
    assert charged(q) == {"2025-03-03": 2000, "2025-03-04": 2000}
    assert q.total_fen == 4000
    assert any("daily_cap" in line.caps_applied for line in q.lines)


def test_class1_thirty_days(class1: Tariff) -> None:
    q = quote(class1, at(2025, 3, 3, 9), at(2025, 4, 2, 9))
    # 30 capped days, then 4/2 00:00-09:00: night 1.00 left under its cap + 2 x 1.50.
    assert q.total_fen == 30 * 2000 + 400
    assert q.needs_review  # longer than the 72 h review bound
    assert q.review_reason is not None and "72" in q.review_reason


@pytest.mark.parametrize(
    ("entry", "exit", "total"),
    [
        (at(2025, 3, 3, 9), at(2025, 3, 3, 11), 600),  # 4.00 + 2 x 1.00
        (at(2025, 3, 3, 8), at(2025, 3, 3, 20), 1500),  # day cap
        (at(2025, 3, 3, 20), at(2025, 3, 4, 8), 400),  # night cap
    ],
)
def test_class2(class2: Tariff, entry: datetime, exit: datetime, total: int) -> None:
    assert quote(class2, entry, exit).total_fen == total


@pytest.mark.parametrize(
    ("entry", "exit", "total"),
    [
        (at(2025, 3, 3, 9), at(2025, 3, 3, 11), 400),  # workday: 2 hours x 2.00
        (at(2025, 3, 3, 8), at(2025, 3, 3, 20), 1000),  # day cap
        (at(2025, 3, 8, 9), at(2025, 3, 8, 12), 600),  # ordinary weekend is charged
        (at(2025, 10, 1, 9), at(2025, 10, 1, 12), 0),  # National Day is free
        (at(2025, 9, 28, 9), at(2025, 9, 28, 12), 600),  # adjusted workday (Sunday) charged
    ],
)
def test_class3_day_types(class3: Tariff, entry: datetime, exit: datetime, total: int) -> None:
    assert quote(class3, entry, exit).total_fen == total


def test_class3_holiday_eve_night_belongs_to_the_workday(class3: Tariff) -> None:
    q = quote(class3, at(2025, 9, 30, 19), at(2025, 10, 1, 10))
    # 19:00-20:00 2.00; the night from 9/30 20:00 is priced by 9/30 (a workday): 6 units of
    # 2 h capped at 3.00, 2.00 before midnight; 10/1 08:00-10:00 is a holiday: free.
    assert q.total_fen == 500
    assert charged(q) == {"2025-09-30": 400, "2025-10-01": 100}
    assert q.day_types == {date(2025, 9, 30): DayType.WORKDAY, date(2025, 10, 1): DayType.HOLIDAY}
    assert "法定节假日" in q.explanation_zh


def test_class3_night_after_the_last_holiday_is_free(class3: Tariff) -> None:
    q = quote(class3, at(2025, 10, 8, 19), at(2025, 10, 9, 9))
    # 10/8 is the last holiday: no night band starts on it, so only 10/9 08:00-09:00 is charged.
    assert q.total_fen == 200


@pytest.mark.parametrize(
    ("minutes", "total"),
    [(10, 0), (15, 0), (16, 300), (60, 300), (120, 600), (121, 900)],
)
def test_lot_short_stays(lot: Tariff, minutes: int, total: int) -> None:
    entry = at(2025, 3, 3, 9)
    q = quote(lot, entry, at(2025, 3, 3, 9 + minutes // 60, minutes % 60))
    assert q.total_fen == total


def test_lot_rolling_24h_against_natural_day(lot: Tariff) -> None:
    entry, exit = at(2025, 3, 3, 19, 30), at(2025, 3, 4, 19, 31)
    rolling = quote(lot, entry, exit)
    # First 24 h capped at 30.00; the unit starting at 19:30 the next day opens window two.
    assert rolling.total_fen == 3300
    natural = quote(variant("lot-standard", cap_period="natural_day"), entry, exit)
    # 3/3: units at 19:30..23:30 -> 5 x 3.00; 3/4: 20 units capped at 30.00.
    assert natural.total_fen == 1500 + 3000
    assert charged(natural) == {"2025-03-03": 1500, "2025-03-04": 3000}


def test_lot_round_the_clock_band_is_not_cut_at_midnight(lot: Tariff) -> None:
    assert quote(lot, at(2025, 3, 3, 23, 30), at(2025, 3, 4, 0, 30)).total_fen == 300


def test_lot_lost_ticket(lot: Tariff) -> None:
    known = quote_lost_ticket(lot, at(2025, 3, 3, 11), entry=at(2025, 3, 3, 9))
    assert known.total_fen == 600 + 5000
    assert known.lines[-1].kind is LineKind.LOST_TICKET
    unknown = quote_lost_ticket(lot, at(2025, 3, 3, 11))
    assert unknown.total_fen == 5000
    assert "遗失" in unknown.explanation_zh


def test_lot_vehicle_classes(lot: Tariff) -> None:
    entry, exit = at(2025, 3, 3, 9), at(2025, 3, 3, 11)
    assert quote(lot, entry, exit, vehicle_class="large").total_fen == 1200
    assert quote(lot, entry, exit, vehicle_class="motorcycle").total_fen == 200
    with pytest.raises(VehicleClassError):
        quote(lot, entry, exit, vehicle_class="bus")


def test_class1_new_energy_gets_an_hour_free(class1: Tariff) -> None:
    entry = at(2025, 3, 3, 9)
    assert quote(class1, entry, at(2025, 3, 3, 10), vehicle_class="new_energy").total_fen == 0
    assert quote(class1, entry, at(2025, 3, 3, 10), vehicle_class="small").total_fen == 500


def test_explanation_is_readable_chinese(class1: Tariff) -> None:
    q = quote(class1, at(2025, 3, 3, 9), at(2025, 3, 3, 11))
    text = q.explanation_zh
    assert text.startswith("小型车停车2小时")
    assert "超过30分钟免费时长" in text
    assert text.endswith("应缴8.00元。")
    free = quote(class1, at(2025, 3, 3, 9), at(2025, 3, 3, 9, 20))
    assert "未超过30分钟免费时长" in free.explanation_zh
