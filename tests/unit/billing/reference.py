"""A slow, unit-by-unit reference pricer for uniform tariffs, used to check the fast engine.

It walks minutes to find band pieces and enumerates every unit one by one, applying band,
daily (natural or rolling) and stay caps cumulatively in time order. Day types, passes and
plate-day rules are left to the example-based tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.billing import CapPeriod, DayType, FirstUnitScope, Tariff

DAY = 1440


@dataclass
class Unit:
    start: int  # minute
    price: int
    occurrence: int


def _occurrences(
    tariff: Tariff, vehicle_class: str, first_day: int, last_day: int
) -> list[tuple[int, int, int]]:
    """(start, end, band index) per occurrence, merged where one band runs round the clock."""
    bands = tariff.rules_for(vehicle_class).tables[DayType.WORKDAY].bands
    found: list[tuple[int, int, int]] = []
    for day in range(first_day - 1, last_day + 1):
        for index, band in enumerate(bands):
            start = day * DAY + band.start_minute
            found.append((start, start + band.length_seconds // 60, index))
    found.sort()
    merged: list[tuple[int, int, int]] = []
    for occ in found:
        if merged and merged[-1][1] == occ[0] and merged[-1][2] == occ[2]:
            merged[-1] = (merged[-1][0], occ[1], occ[2])
        else:
            merged.append(occ)
    return merged


def reference_price(
    tariff: Tariff,
    entry: int,
    exit: int,
    vehicle_class: str = "small",
    cover: list[tuple[int, int]] | None = None,
) -> tuple[int, dict[int, int]]:
    """Total fen and fen per natural day (minute arithmetic; entry/exit in local minutes)."""
    rules = tariff.rules_for(vehicle_class)
    table = rules.tables[DayType.WORKDAY]
    bands = table.bands
    free = rules.free_minutes
    if exit - entry <= free:
        return 0, {}
    charge = entry + free if tariff.free_when_exceeded and free else entry
    occurrences = _occurrences(tariff, vehicle_class, charge // DAY, exit // DAY + 1)

    def owner(minute: int) -> int | None:
        for index, (start, end, _) in enumerate(occurrences):
            if start <= minute < end:
                return index
        return None

    # Pieces: maximal runs of minutes in one occurrence.
    pieces: list[tuple[int, int, int]] = []
    covered = {minute for start, end in cover or [] for minute in range(start, end)}
    for minute in range(charge, exit):
        occ = owner(minute)
        if occ is None or minute in covered:
            continue
        if pieces and pieces[-1][2] == occ and pieces[-1][1] == minute:
            pieces[-1] = (pieces[-1][0], minute + 1, occ)
        else:
            pieces.append((minute, minute + 1, occ))
    units: list[Unit] = []
    used: set[object] = set()
    for start, end, occ in pieces:
        band = bands[occurrences[occ][2]]
        key: object = band.name if tariff.first_unit_scope is FirstUnitScope.STAY else occ
        position = start
        if band.first_unit_minutes is not None and key not in used:
            used.add(key)
            units.append(Unit(position, band.first_unit_fen or 0, occ))
            position += band.first_unit_minutes
        while position < end:
            units.append(Unit(position, band.unit_fen, occ))
            position += band.unit_minutes
    spent_band: dict[int, int] = {}
    spent_period: dict[int, int] = {}
    spent_stay = 0
    by_day: dict[int, int] = {}
    first_period: int | None = None
    for unit in units:
        band = bands[occurrences[unit.occurrence][2]]
        amount = unit.price
        if band.cap_fen is not None:
            amount = max(0, min(amount, band.cap_fen - spent_band.get(unit.occurrence, 0)))
        spent_band[unit.occurrence] = spent_band.get(unit.occurrence, 0) + amount
        if tariff.cap_period is CapPeriod.ROLLING_24H:
            period = (unit.start - entry) // DAY
        else:
            period = unit.start // DAY
        if table.daily_cap_fen is not None:
            amount = min(amount, table.daily_cap_fen - spent_period.get(period, 0))
        if rules.stay_cap_fen is not None:
            amount = min(amount, rules.stay_cap_fen - spent_stay)
        spent_period[period] = spent_period.get(period, 0) + amount
        spent_stay += amount
        if amount:
            by_day[unit.start // DAY] = by_day.get(unit.start // DAY, 0) + amount
            if first_period is None:
                first_period = period
                first_day = unit.start // DAY
    total = spent_stay
    minimum = rules.minimum_charge_fen
    if first_period is not None and 0 < total < minimum:
        room = minimum - total
        if table.daily_cap_fen is not None:
            room = min(room, table.daily_cap_fen - spent_period[first_period])
        if rules.stay_cap_fen is not None:
            room = min(room, rules.stay_cap_fen - total)
        if room > 0:
            total += room
            by_day[first_day] += room
    return total, by_day
