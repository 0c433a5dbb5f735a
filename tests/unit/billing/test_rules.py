"""Each tariff setting changes the price the documented way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.billing import (
    LineKind,
    NaiveDatetimeError,
    StayError,
    Tariff,
    TariffError,
    TariffSchedule,
    parse_tariff,
    pick_version,
    quote,
    quote_stay,
)

from .conftest import at, demo, variant


def test_free_period_kept_when_exceeded() -> None:
    kept = variant("onstreet-class1", free_when_exceeded=True)
    q = quote(kept, at(2025, 3, 3, 9), at(2025, 3, 3, 11))
    # Charging starts at 09:30: first hour to 10:30 5.00, then one 30-min unit 1.50.
    assert q.total_fen == 650
    assert q.lines[0].kind is LineKind.FREE and q.lines[0].free_minutes == 30
    assert q.free_seconds_used == 1800
    assert "前30分钟免费" in q.explanation_zh


def test_first_unit_per_occurrence_charges_each_morning_again(class1: Tariff) -> None:
    per_occurrence = variant("onstreet-class1", first_unit_scope="occurrence")
    entry, exit = at(2025, 3, 3, 19, 30), at(2025, 3, 4, 9)
    assert quote(class1, entry, exit).total_fen == 1300
    # The morning hour now costs the first-hour 5.00 instead of 2 x 1.50.
    assert quote(per_occurrence, entry, exit).total_fen == 1300 - 300 + 500


def test_minimum_charge_tops_up_a_cheap_stay() -> None:
    tariff = variant("onstreet-class3", minimum_charge_fen=300)
    q = quote(tariff, at(2025, 3, 3, 21), at(2025, 3, 3, 22))  # one night unit: 1.00
    assert q.total_fen == 300
    minimum = [line for line in q.lines if line.kind is LineKind.MINIMUM]
    assert len(minimum) == 1 and minimum[0].amount_fen == 200
    assert sum(q.charged_by_day.values()) == 300
    assert quote(tariff, at(2025, 3, 3, 9), at(2025, 3, 3, 9, 20)).total_fen == 0  # free stays free


def test_minimum_charge_never_breaks_the_daily_cap() -> None:
    tariff = variant("onstreet-class3", minimum_charge_fen=5000)
    q = quote(tariff, at(2025, 3, 3, 21), at(2025, 3, 3, 22))
    assert q.total_fen == 1000


def test_stay_cap() -> None:
    tariff = variant("onstreet-class1", stay_cap_fen=3000)
    q = quote(tariff, at(2025, 3, 3, 9), at(2025, 3, 6, 9))
    assert q.total_fen == 3000
    assert any("stay_cap" in line.caps_applied for line in q.lines)


def test_no_daily_cap_means_band_prices_add_up() -> None:
    tariff = variant("onstreet-class1", daily_cap_fen=None)
    assert quote(tariff, at(2025, 3, 3, 8), at(2025, 3, 3, 20)).total_fen == 500 + 22 * 150


def test_review_bound_on_fee() -> None:
    data = demo("onstreet-class1").to_dict()
    data["review"] = {"max_fee_fen": 1000}
    tariff = parse_tariff(data)
    assert not quote(tariff, at(2025, 3, 3, 9), at(2025, 3, 3, 11)).needs_review
    flagged = quote(tariff, at(2025, 3, 3, 9), at(2025, 3, 3, 18))
    assert flagged.needs_review and flagged.total_fen == 2000  # still priced, for the human
    assert "需人工核对" in flagged.explanation_zh


def test_grace_period_after_payment(class1: Tariff) -> None:
    entry, paid_at = at(2025, 3, 3, 9), at(2025, 3, 3, 11)
    inside = quote_stay(class1, entry, at(2025, 3, 3, 11, 15), paid_at=paid_at, paid_fen=800)
    assert inside.total_fen == 0
    assert inside.lines[-1].kind is LineKind.GRACE
    assert inside.charged_fen == 800  # the stay as paid for, for the plate's later stays
    assert sum(line.amount_fen for line in inside.lines) == 0
    short = quote_stay(class1, entry, at(2025, 3, 3, 11, 5), paid_at=paid_at, paid_fen=500)
    assert short.total_fen == 300  # grace never forgives an underpayment
    after = quote_stay(class1, entry, at(2025, 3, 3, 11, 16), paid_at=paid_at, paid_fen=800)
    # The stay to 11:16 costs 5.00 + 3 x 1.50; 8.00 was paid.
    assert after.total_fen == 950 - 800
    assert sum(line.amount_fen for line in after.lines) == after.total_fen
    with pytest.raises(StayError):
        quote_stay(class1, entry, at(2025, 3, 3, 11), paid_at=at(2025, 3, 3, 8), paid_fen=0)


def test_naive_and_reversed_times_are_refused(class1: Tariff) -> None:
    with pytest.raises(NaiveDatetimeError):
        quote(class1, datetime(2025, 3, 3, 9), at(2025, 3, 3, 10))
    with pytest.raises(NaiveDatetimeError):
        quote(class1, at(2025, 3, 3, 9), datetime(2025, 3, 3, 10))
    with pytest.raises(StayError):
        quote(class1, at(2025, 3, 3, 10), at(2025, 3, 3, 9))


def test_any_offset_is_priced_in_shanghai_time(class1: Tariff) -> None:
    local = quote(class1, at(2025, 3, 3, 19, 30), at(2025, 3, 4, 9))
    utc = quote(
        class1, datetime(2025, 3, 3, 11, 30, tzinfo=UTC), datetime(2025, 3, 4, 1, tzinfo=UTC)
    )
    tokyo = timezone(timedelta(hours=9))
    other = quote(class1, datetime(2025, 3, 3, 20, 30, tzinfo=tokyo), at(2025, 3, 4, 9))
    assert local.to_dict() == utc.to_dict() == other.to_dict()


def test_zero_length_stay_costs_nothing(class1: Tariff) -> None:
    q = quote(class1, at(2025, 3, 3, 9), at(2025, 3, 3, 9))
    assert q.total_fen == 0 and q.lines == ()


def _version(version: str, effective: str, unit_fen: int) -> Tariff:
    data = demo("onstreet-class1").to_dict()
    data["version"] = version
    data["effective_from"] = effective
    data["bands"][0]["unit_fen"] = unit_fen
    return parse_tariff(data)


def test_schedule_prices_a_stay_with_the_version_in_force_at_entry() -> None:
    old = _version("2024", "2024-01-01T00:00:00+08:00", 150)
    new = _version("2025", "2025-06-01T00:00:00+08:00", 200)
    schedule = TariffSchedule([new, old])
    assert schedule.versions == (old, new)
    spanning = schedule.pick(at(2025, 5, 31, 23))
    assert spanning is old
    assert schedule.pick(at(2025, 6, 1)) is new
    assert pick_version([old, new], at(2025, 7, 1)) is new
    with pytest.raises(TariffError):
        schedule.pick(at(2023, 12, 31))


def test_schedule_refuses_ambiguous_versions() -> None:
    a = _version("a", "2024-01-01T00:00:00+08:00", 150)
    b = _version("b", "2024-01-01T00:00:00+08:00", 200)
    with pytest.raises(TariffError):
        TariffSchedule([a, b])
    with pytest.raises(TariffError):
        TariffSchedule([variant("onstreet-class1", effective_from=None)])


def test_quotes_are_deterministic(class1: Tariff) -> None:
    entry, exit = at(2025, 3, 3, 19, 30), at(2025, 3, 6, 9)
    first, second = quote(class1, entry, exit), quote(class1, entry, exit)
    assert first == second
    assert first.to_dict() == second.to_dict()
    assert list(first.to_dict()) == list(second.to_dict())
