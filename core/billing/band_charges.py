"""Band charges: units per band piece, band caps, then daily and stay caps — all arithmetic."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from core.billing.day_calendar import DayType
from core.billing.local_time import DAY
from core.billing.tariff import Band, FirstUnitScope, Tariff, VehicleRules

NO_CAP = 1 << 62

_Occurrence = tuple[int, int, Band, DayType | None]


@dataclass(slots=True)
class BandCharge:
    """A band line in local seconds while the caps are applied."""

    start: int
    end: int
    period: int
    band: Band
    kind: DayType | None
    units: int
    gross: int
    amount: int
    caps: tuple[str, ...]


def occurrences(
    rules: VehicleRules, kinds: Callable[[int], DayType], start_s: int, end_s: int
) -> list[_Occurrence]:
    """Band occurrences touching [start_s, end_s); each belongs to the day it starts on."""
    found: list[_Occurrence] = []
    uniform = rules.tables[DayType.WORKDAY] if rules.uniform else None
    first_day = start_s // DAY
    if start_s - first_day * DAY < rules.overhang_seconds:
        first_day -= 1  # yesterday's band still runs at the start: price it by yesterday
    for day in range(first_day, (end_s - 1) // DAY + 1):
        kind = None if uniform is not None else kinds(day)
        table = uniform if kind is None else rules.tables[kind]
        assert table is not None
        base = day * DAY
        for band in table.bands:
            begin = base + band.start_seconds
            if found:
                last = found[-1]
                if last[1] == begin and last[2] is band and last[3] == kind:
                    # A round-the-clock band runs on: units are not cut at midnight.
                    found[-1] = (last[0], begin + band.length_seconds, band, kind)
                    continue
                if last[1] > begin:
                    # A later day's band takes over where the previous day's band would still run.
                    found[-1] = (last[0], begin, last[2], last[3])
            found.append((begin, begin + band.length_seconds, band, kind))
    return found


def uncovered(start: int, end: int, cover: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of [start, end) outside the sorted, disjoint cover intervals."""
    pieces: list[tuple[int, int]] = []
    cursor = start
    for c_start, c_end in cover:
        if c_end <= cursor:
            continue
        if c_start >= end:
            break
        if c_start > cursor:
            pieces.append((cursor, c_start))
        cursor = max(cursor, c_end)
        if cursor >= end:
            break
    if cursor < end:
        pieces.append((cursor, end))
    return pieces


def charge_bands(
    tariff: Tariff,
    rules: VehicleRules,
    kinds: Callable[[int], DayType],
    charge_s: int,
    exit_s: int,
    period_base: int,
    cover: Sequence[tuple[int, int]],
) -> list[BandCharge]:
    """Charge every band piece of [charge_s, exit_s) unit by unit, arithmetically."""
    lines: list[BandCharge] = []
    used_first: set[object] = set()
    per_stay = tariff.first_unit_scope is FirstUnitScope.STAY
    for occ_start, occ_end, band, kind in occurrences(rules, kinds, charge_s, exit_s):
        if occ_end <= charge_s:
            continue
        if occ_start >= exit_s:
            break
        key: object = band.name if per_stay else (band.name, occ_start)
        occ_start, occ_end = max(occ_start, charge_s), min(occ_end, exit_s)
        pieces = uncovered(occ_start, occ_end, cover) if cover else ((occ_start, occ_end),)
        unit = band.unit_minutes * 60
        price = band.unit_fen
        cap = band.cap_fen
        spent = 0  # gross charged so far in this occurrence, for the band cap
        for start, end in pieces:
            if band.first_unit_minutes is not None and key not in used_first:
                used_first.add(key)
                first_len, first_fen = band.first_unit_minutes * 60, band.first_unit_fen or 0
            else:
                first_len, first_fen = unit, price
            length = end - start
            rest = -(-(length - first_len) // unit) if length > first_len else 0
            units = rest + 1
            last_period = (end - 1 - period_base) // DAY
            done, gross_done = 0, 0
            for period in range((start - period_base) // DAY, last_period + 1):
                if period == last_period:
                    upto = units
                else:
                    # Units are attributed to the period in which they start.
                    offset = period_base + (period + 1) * DAY - start - first_len
                    upto = 1 + min(rest, max(0, -(-offset // unit)))
                if upto == done:
                    continue
                gross_upto = first_fen + (upto - 1) * price
                gross = gross_upto - gross_done
                if cap is None:
                    amount = gross
                else:
                    amount = min(cap, spent + gross_upto) - min(cap, spent + gross_done)
                line_start = start + (first_len + (done - 1) * unit if done else 0)
                line_end = min(end, start + first_len + (upto - 1) * unit)
                caps = ("band_cap",) if amount < gross else ()
                lines.append(
                    BandCharge(
                        line_start, line_end, period, band, kind, upto - done, gross, amount, caps
                    )
                )
                done, gross_done = upto, gross_upto
            spent += gross_done
    return lines


def apply_period_caps(
    tariff: Tariff,
    rules: VehicleRules,
    kinds: Callable[[int], DayType],
    lines: list[BandCharge],
    period_base: int,
    prior_by_day: Mapping[int, int],
) -> dict[int, int]:
    """Cut band lines so that no cap period (natural day or rolling 24 h) exceeds its cap."""
    remaining: dict[int, int] = {}
    uniform = rules.tables[DayType.WORKDAY] if rules.uniform else None
    for line in lines:
        left = remaining.get(line.period)
        if left is None:
            day = (period_base + line.period * DAY) // DAY
            table = uniform if uniform is not None else rules.tables[kinds(day)]
            cap = table.daily_cap_fen
            left = NO_CAP if cap is None else max(0, cap - prior_by_day.get(day, 0))
        if line.amount > left:
            line.amount = left
            line.caps = (*line.caps, "daily_cap")
        remaining[line.period] = left - line.amount
    return remaining


def apply_stay_cap(lines: list[BandCharge], cap: int | None) -> int:
    """Cut band lines so the stay never exceeds its cap; return what is still chargeable."""
    left = NO_CAP if cap is None else cap
    for line in lines:
        if line.amount > left:
            line.amount = left
            line.caps = (*line.caps, "stay_cap")
        left -= line.amount
    return left
