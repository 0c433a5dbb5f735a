"""A plate's day: shared free period, continued stays and the cap across stays."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from core.billing import LineKind, PricedStay, Quote, Tariff, parse_tariff, quote_stay

from .conftest import at, demo


def with_plate_day(name: str, **rules: Any) -> Tariff:
    data = demo(name).to_dict()
    data["plate_day"].update(rules)
    return parse_tariff(data)


def remember(q: Quote, location: str | None = None) -> PricedStay:
    return q.as_priced_stay(location)


def test_first_stay_of_the_day_takes_the_free_period(class1: Tariff) -> None:
    first = quote_stay(class1, at(2025, 3, 3, 9), at(2025, 3, 3, 9, 20))
    assert first.total_fen == 0 and first.free_seconds_used == 1200
    second = quote_stay(class1, at(2025, 3, 3, 14), at(2025, 3, 3, 14, 20), prior=[remember(first)])
    assert second.total_fen == 500
    assert "当日已享受过免费时长" in second.explanation_zh
    next_day = quote_stay(class1, at(2025, 3, 4, 9), at(2025, 3, 4, 9, 20), prior=[remember(first)])
    assert next_day.total_fen == 0


def test_a_stay_that_paid_from_entry_did_not_use_the_free_period(class1: Tariff) -> None:
    first = quote_stay(class1, at(2025, 3, 3, 9), at(2025, 3, 3, 10))
    assert first.total_fen == 500 and first.free_seconds_used == 0
    second = quote_stay(class1, at(2025, 3, 3, 14), at(2025, 3, 3, 14, 20), prior=[remember(first)])
    assert second.total_fen == 0


def test_pooled_free_minutes() -> None:
    tariff = with_plate_day("onstreet-class1", free_period="pooled")
    first = quote_stay(tariff, at(2025, 3, 3, 9), at(2025, 3, 3, 9, 20))
    prior = [remember(first)]
    assert (
        quote_stay(tariff, at(2025, 3, 3, 14), at(2025, 3, 3, 14, 10), prior=prior).total_fen == 0
    )
    assert (
        quote_stay(tariff, at(2025, 3, 3, 14), at(2025, 3, 3, 14, 11), prior=prior).total_fen == 500
    )


def test_every_stay_gets_the_free_period() -> None:
    tariff = with_plate_day("onstreet-class1", free_period="every_stay")
    first = quote_stay(tariff, at(2025, 3, 3, 9), at(2025, 3, 3, 9, 20))
    later = quote_stay(tariff, at(2025, 3, 3, 14), at(2025, 3, 3, 14, 20), prior=[remember(first)])
    assert later.total_fen == 0


def test_daily_cap_covers_all_stays_of_the_day(class1: Tariff) -> None:
    morning = quote_stay(class1, at(2025, 3, 3, 8), at(2025, 3, 3, 13))  # 5.00 + 8 x 1.50
    assert morning.total_fen == 1700
    afternoon = quote_stay(
        class1, at(2025, 3, 3, 15), at(2025, 3, 3, 17), prior=[remember(morning)]
    )
    assert afternoon.total_fen == 300  # 8.00 on its own, but the day's cap leaves 3.00
    assert morning.total_fen + afternoon.total_fen == 2000
    assert any("daily_cap" in line.caps_applied for line in afternoon.lines)
    evening = quote_stay(
        class1,
        at(2025, 3, 3, 18),
        at(2025, 3, 4, 9),
        prior=[remember(morning), remember(afternoon)],
    )
    # 3/3 is full. The night's 5.00 band cap is applied before the daily cap: 4.00 of it
    # falls on 3/3 (cut to 0 by the day's cap), 1.00 on 3/4; then 08:00-09:00 3.00.
    assert evening.charged_by_day == {date(2025, 3, 4): 400}
    assert evening.total_fen == 400


def test_cap_per_stay_when_the_setting_is_off() -> None:
    tariff = with_plate_day("onstreet-class1", cap_across_stays=False)
    morning = quote_stay(tariff, at(2025, 3, 3, 8), at(2025, 3, 3, 13))
    afternoon = quote_stay(
        tariff, at(2025, 3, 3, 15), at(2025, 3, 3, 17), prior=[remember(morning)]
    )
    assert afternoon.total_fen == 800


def test_re_parking_on_the_same_street_continues_the_stay(class1: Tariff) -> None:
    first = quote_stay(class1, at(2025, 3, 3, 9), at(2025, 3, 3, 10))
    assert first.total_fen == 500
    prior = [remember(first, "street-1")]
    again = quote_stay(
        class1, at(2025, 3, 3, 10, 5), at(2025, 3, 3, 11), prior=prior, location="street-1"
    )
    # Priced as one stay 09:00-11:00 (8.00) minus the 5.00 already charged.
    assert again.total_fen == 300
    assert again.continued_from == (prior[0],)
    assert [line.kind for line in again.lines][-1] is LineKind.CONTINUED
    assert sum(line.amount_fen for line in again.lines) == again.total_fen
    assert "视为连续停车" in again.explanation_zh
    # The store keeps each stay's own part; the next re-parking walks the chain back.
    second = again.as_priced_stay("street-1")
    assert (second.entry, second.total_fen) == (at(2025, 3, 3, 10, 5), 300)
    third = quote_stay(
        class1,
        at(2025, 3, 3, 11, 5),
        at(2025, 3, 3, 12),
        prior=[*prior, second],
        location="street-1",
    )
    # One stay 09:00-12:00: 5.00 + 4 x 1.50 = 11.00, of which 8.00 was already charged.
    assert third.continued_from == (prior[0], second)
    assert third.total_fen == 300
    assert third.stay_entry == at(2025, 3, 3, 9)


def test_other_street_or_long_gap_is_a_new_stay(class1: Tariff) -> None:
    first = quote_stay(class1, at(2025, 3, 3, 9), at(2025, 3, 3, 10))
    prior = [remember(first, "street-1")]
    elsewhere = quote_stay(
        class1, at(2025, 3, 3, 10, 5), at(2025, 3, 3, 11), prior=prior, location="street-2"
    )
    late = quote_stay(
        class1, at(2025, 3, 3, 10, 11), at(2025, 3, 3, 11), prior=prior, location="street-1"
    )
    for q in (elsewhere, late):
        assert q.continued_from == ()
        assert q.total_fen == 500  # a new 45-55 min stay: first hour 5.00, day total 10.00 < cap


def test_priced_stay_round_trips_through_json(class1: Tariff) -> None:
    stay = quote_stay(class1, at(2025, 3, 3, 19), at(2025, 3, 4, 9)).as_priced_stay("street-9")
    again = PricedStay.from_dict(json.loads(json.dumps(stay.to_dict())))
    assert again == stay
