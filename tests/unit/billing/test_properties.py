"""Property tests: the engine against a unit-by-unit reference, and invariants of any quote."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.billing import (
    CapPeriod,
    CoveredInterval,
    DayType,
    LineKind,
    PricedStay,
    Quote,
    Tariff,
    parse_tariff,
    quote,
    quote_stay,
)

from .conftest import at, demo
from .reference import DAY, reference_price

BASE = at(2025, 3, 3)  # a Monday; minute offsets are counted from its local midnight
BASE_MINUTE = BASE.toordinal() * DAY
DEMOS = {
    name: demo(name)
    for name in ("onstreet-class1", "onstreet-class2", "onstreet-class3", "lot-standard")
}


def hhmm(minute: int) -> str:
    minute %= DAY
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def band_layouts(draw: st.DrawFn) -> list[dict[str, Any]]:
    """1-3 bands on the 24 h circle, possibly crossing midnight, touching or with free gaps."""
    count = draw(st.integers(1, 3))
    starts = sorted(draw(st.sets(st.integers(0, 95), min_size=count, max_size=count)))
    starts = [s * 15 for s in starts]
    shift = draw(st.integers(0, 95)) * 15
    bands = []
    for index, start in enumerate(starts):
        limit = starts[index + 1] if index + 1 < count else starts[0] + DAY
        end = draw(st.integers(start // 15 + 1, limit // 15)) * 15
        band: dict[str, Any] = {
            "name": f"b{index}",
            "start": hhmm(start + shift),
            "end": hhmm(end + shift),
            "unit_minutes": draw(st.sampled_from([15, 30, 60, 120])),
            "unit_fen": draw(st.integers(0, 500)),
        }
        if end - start == DAY:
            band["end"] = band["start"]  # start == end means round the clock
        if draw(st.booleans()):
            band["first_unit_minutes"] = draw(st.sampled_from([30, 60, 120]))
            band["first_unit_fen"] = draw(st.integers(0, 1000))
        if draw(st.booleans()):
            band["cap_fen"] = draw(st.integers(0, 2000))
        bands.append(band)
    return bands


@st.composite
def tariffs(draw: st.DrawFn) -> Tariff:
    data: dict[str, Any] = {
        "id": "generated",
        "bands": draw(band_layouts()),
        "free_minutes": draw(st.sampled_from([0, 15, 30])),
        "free_when_exceeded": draw(st.booleans()),
        "first_unit_scope": draw(st.sampled_from(["stay", "occurrence"])),
        "cap_period": draw(st.sampled_from(["natural_day", "rolling_24h"])),
        "minimum_charge_fen": draw(st.sampled_from([0, 0, 100, 500])),
    }
    for key, top in (("daily_cap_fen", 5000), ("stay_cap_fen", 20000)):
        if draw(st.booleans()):
            data[key] = draw(st.integers(0, top))
    return parse_tariff(data)


entries = st.integers(0, 2 * DAY - 1)
durations = st.integers(0, 3 * DAY)


def local(minute: int) -> datetime:
    return BASE + timedelta(minutes=minute)


def line_sum(q: Quote) -> int:
    return sum(line.amount_fen for line in q.lines)


@settings(max_examples=300, deadline=None)
@given(tariffs(), entries, durations)
def test_engine_matches_the_unit_by_unit_reference(tariff: Tariff, entry: int, length: int) -> None:
    q = quote(tariff, local(entry), local(entry + length))
    total, by_day = reference_price(tariff, BASE_MINUTE + entry, BASE_MINUTE + entry + length)
    assert q.total_fen == total
    if tariff.cap_period is CapPeriod.NATURAL_DAY:
        expected = {
            day // DAY: fen for day, fen in ((d * DAY, f) for d, f in by_day.items()) if fen
        }
        assert {d.toordinal(): fen for d, fen in q.charged_by_day.items()} == expected


@settings(max_examples=200, deadline=None)
@given(
    tariffs(),
    entries,
    durations,
    st.lists(st.tuples(st.integers(0, 4 * DAY), st.integers(15, 12 * 60)), max_size=3),
)
def test_engine_matches_the_reference_with_passes(
    tariff: Tariff, entry: int, length: int, spans: list[tuple[int, int]]
) -> None:
    cover = [
        CoveredInterval(local(start), local(start + span), f"m{index}")
        for index, (start, span) in enumerate(spans)
    ]
    q = quote_stay(tariff, local(entry), local(entry + length), cover=cover)
    minutes = [(BASE_MINUTE + start, BASE_MINUTE + start + span) for start, span in spans]
    total, _ = reference_price(
        tariff, BASE_MINUTE + entry, BASE_MINUTE + entry + length, cover=minutes
    )
    assert q.total_fen == total
    assert line_sum(q) == total


@settings(max_examples=200, deadline=None)
@given(tariffs(), entries, durations, st.integers(0, DAY))
def test_a_longer_stay_never_costs_less(tariff: Tariff, entry: int, length: int, more: int) -> None:
    shorter = quote(tariff, local(entry), local(entry + length))
    longer = quote(tariff, local(entry), local(entry + length + more))
    assert longer.total_fen >= shorter.total_fen


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(sorted(DEMOS)),
    st.sampled_from(["small", "large", "new_energy", "motorcycle"]),
    st.integers(0, 240 * DAY),
    st.integers(0, 5 * DAY),
    st.integers(0, 2 * DAY),
)
def test_demo_tariffs_monotone_and_lines_sum(
    name: str, vehicle: str, entry: int, length: int, more: int
) -> None:
    tariff = DEMOS[name]
    shorter = quote(tariff, local(entry), local(entry + length), vehicle_class=vehicle)
    longer = quote(tariff, local(entry), local(entry + length + more), vehicle_class=vehicle)
    assert longer.total_fen >= shorter.total_fen
    for q in (shorter, longer):
        assert line_sum(q) == q.total_fen == sum(q.charged_by_day.values())
        _assert_caps_hold(tariff, q, vehicle)


def _assert_caps_hold(tariff: Tariff, q: Quote, vehicle: str = "small") -> None:
    rules = tariff.rules_for(vehicle)
    if rules.stay_cap_fen is not None:
        assert q.total_fen <= max(rules.stay_cap_fen, 0)
    if tariff.cap_period is CapPeriod.NATURAL_DAY:
        for day, fen in q.charged_by_day.items():
            kind = q.day_types.get(day, DayType.WORKDAY)
            cap = rules.tables[kind].daily_cap_fen
            assert cap is None or fen <= cap
    else:
        assert q.stay_entry is not None
        windows: dict[int, int] = {}
        for line in q.lines:
            if line.start is not None and line.kind is LineKind.BAND:
                index = int((line.start - q.stay_entry).total_seconds()) // (DAY * 60)
                windows[index] = windows.get(index, 0) + line.amount_fen
        cap = rules.tables[DayType.WORKDAY].daily_cap_fen
        assert cap is None or all(fen <= cap for fen in windows.values())
    for line in q.lines:
        assert 0 <= line.amount_fen <= line.gross_fen or line.kind in (LineKind.MINIMUM,)


@settings(max_examples=200, deadline=None)
@given(tariffs(), entries, durations)
def test_lines_sum_to_the_total_and_no_cap_is_exceeded(
    tariff: Tariff, entry: int, length: int
) -> None:
    q = quote(tariff, local(entry), local(entry + length))
    assert line_sum(q) == q.total_fen == sum(q.charged_by_day.values())
    _assert_caps_hold(tariff, q)
    for line in q.lines:
        if line.kind is LineKind.BAND and line.start and line.end:
            assert line.start < line.end


@settings(max_examples=200, deadline=None)
@given(tariffs(), entries, st.data())
def test_a_stay_inside_the_free_period_costs_nothing(
    tariff: Tariff, entry: int, data: st.DataObject
) -> None:
    free = tariff.rules_for("small").free_minutes
    length = data.draw(st.integers(0, free * 60))
    q = quote(tariff, local(entry), local(entry) + timedelta(seconds=length))
    assert q.total_fen == 0
    assert q.free_seconds_used == length


@settings(max_examples=200, deadline=None)
@given(tariffs(), entries, durations)
def test_rolling_and_natural_day_cap_bounds(tariff: Tariff, entry: int, length: int) -> None:
    data = tariff.to_dict()
    data["daily_cap_fen"] = 1000
    data.pop("stay_cap_fen", None)
    data["minimum_charge_fen"] = 0
    results = {}
    for mode in ("rolling_24h", "natural_day"):
        data["cap_period"] = mode
        results[mode] = quote(parse_tariff(data), local(entry), local(entry + length)).total_fen
    windows = max(1, -(-length // DAY))
    days_touched = (
        (BASE_MINUTE + entry + max(length, 1) - 1) // DAY - (BASE_MINUTE + entry) // DAY + 1
    )
    assert results["rolling_24h"] <= windows * 1000
    assert results["natural_day"] <= days_touched * 1000
    if length <= DAY:
        assert results["rolling_24h"] <= 1000


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 23 * 60), st.integers(1, 300)), min_size=1, max_size=5))
def test_a_plate_day_never_exceeds_the_daily_cap(stays: list[tuple[int, int]]) -> None:
    tariff = DEMOS["onstreet-class1"]
    prior: list[PricedStay] = []
    cursor = 0
    for gap, length in sorted(stays):
        start = max(cursor + 11, gap)  # more than the continuation gap apart
        end = min(start + length, DAY - 1)
        if start >= end:
            break
        q = quote_stay(tariff, local(start), local(end), prior=prior)
        assert q.total_fen >= 0
        prior.append(q.as_priced_stay())
        cursor = end
    day_total = sum(stay.charged_by_day.get(BASE.date(), 0) for stay in prior)
    assert day_total <= 2000
    assert sum(1 for stay in prior if stay.free_seconds_used) <= 1
