"""Price a stay: free period, band units, caps, minimum charge, passes and plate-day rules."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.billing.day_calendar import ChineseDayCalendar, DayCalendar, DayType
from core.billing.errors import BillingError, NaiveDatetimeError, StayError
from core.billing.lines import LineKind, PricedStay, QuoteContext, QuoteLine
from core.billing.quote import Quote
from core.billing.rights import CoveredInterval, merge_cover
from core.billing.tariff import (
    DAY_SECONDS,
    Band,
    CapPeriod,
    FirstUnitScope,
    FreePeriodSharing,
    Tariff,
    VehicleRules,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = DAY_SECONDS
_DEFAULT_CALENDAR = ChineseDayCalendar()
_NO_CAP = 1 << 62

_Occurrence = tuple[int, int, Band, DayType | None]


@dataclass(slots=True)
class _Raw:
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


def to_local(at: datetime, name: str) -> tuple[datetime, int]:
    """Return ``at`` in Shanghai local time (whole seconds) and its local second count."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise NaiveDatetimeError(name)
    local = at.astimezone(SHANGHAI).replace(microsecond=0)
    seconds = local.toordinal() * DAY + local.hour * 3600 + local.minute * 60 + local.second
    return local, seconds


class _Clock:
    """Turns local second counts back into aware datetimes relative to one origin."""

    __slots__ = ("origin", "origin_s")

    def __init__(self, origin: datetime, origin_s: int) -> None:
        self.origin = origin
        self.origin_s = origin_s

    def at(self, seconds: int) -> datetime:
        return self.origin + timedelta(seconds=seconds - self.origin_s)


class _Kinds:
    """Day types for day ordinals, asked of the calendar once per day per quote."""

    __slots__ = ("_calendar", "_seen")

    def __init__(self, calendar: DayCalendar) -> None:
        self._calendar = calendar
        self._seen: dict[int, DayType] = {}

    def seen(self, first_day: int, last_day: int) -> dict[date, DayType]:
        """The day types looked up for days in [first_day, last_day]."""
        if not self._seen:
            return {}
        return {
            date.fromordinal(day): kind
            for day, kind in sorted(self._seen.items())
            if first_day <= day <= last_day
        }

    def __call__(self, day: int) -> DayType:
        kind = self._seen.get(day)
        if kind is None:
            kind = self._seen[day] = self._calendar.day_type(date.fromordinal(day))
        return kind


def _occurrences(
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


def _uncovered(start: int, end: int, cover: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
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


def _band_lines(
    tariff: Tariff,
    rules: VehicleRules,
    kinds: Callable[[int], DayType],
    charge_s: int,
    exit_s: int,
    period_base: int,
    cover: Sequence[tuple[int, int]],
) -> list[_Raw]:
    """Charge every band piece of [charge_s, exit_s) unit by unit, arithmetically."""
    lines: list[_Raw] = []
    used_first: set[object] = set()
    per_stay = tariff.first_unit_scope is FirstUnitScope.STAY
    for occ_start, occ_end, band, kind in _occurrences(rules, kinds, charge_s, exit_s):
        if occ_end <= charge_s:
            continue
        if occ_start >= exit_s:
            break
        key: object = band.name if per_stay else (band.name, occ_start)
        occ_start, occ_end = max(occ_start, charge_s), min(occ_end, exit_s)
        pieces = _uncovered(occ_start, occ_end, cover) if cover else ((occ_start, occ_end),)
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
                    _Raw(line_start, line_end, period, band, kind, upto - done, gross, amount, caps)
                )
                done, gross_done = upto, gross_upto
            spent += gross_done
    return lines


def _period_caps(
    tariff: Tariff,
    rules: VehicleRules,
    kinds: Callable[[int], DayType],
    lines: list[_Raw],
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
            left = _NO_CAP if cap is None else max(0, cap - prior_by_day.get(day, 0))
        if line.amount > left:
            line.amount = left
            line.caps = (*line.caps, "daily_cap")
        remaining[line.period] = left - line.amount
    return remaining


def _stay_cap(lines: list[_Raw], cap: int | None) -> int:
    """Cut band lines so the stay never exceeds its cap; return what is still chargeable."""
    left = _NO_CAP if cap is None else cap
    for line in lines:
        if line.amount > left:
            line.amount = left
            line.caps = (*line.caps, "stay_cap")
        left -= line.amount
    return left


def _free_available(
    tariff: Tariff, rules: VehicleRules, stay_day: int, prior: Sequence[PricedStay]
) -> int:
    """Seconds of free period this stay may use, after the plate's earlier stays that day."""
    full = rules.free_minutes * 60
    sharing = tariff.plate_day.free_period
    if not full or not prior or sharing is FreePeriodSharing.EVERY_STAY:
        return full
    used = sum(
        stay.free_seconds_used
        for stay in prior
        if to_local(stay.entry, "prior.entry")[1] // DAY == stay_day
    )
    if sharing is FreePeriodSharing.FIRST_STAY:
        return 0 if used else full
    return max(0, full - used)


def _continued(
    tariff: Tariff, entry_s: int, prior: Sequence[PricedStay], location: str | None
) -> PricedStay | None:
    """The earlier stay this one continues (same location, re-parked within the gap), if any."""
    gap = tariff.plate_day.continue_within_minutes * 60
    if not gap or location is None:
        return None
    best: tuple[int, PricedStay] | None = None
    for stay in prior:
        if stay.location != location:
            continue
        exit_s = to_local(stay.exit, "prior.exit")[1]
        if exit_s <= entry_s <= exit_s + gap and (best is None or exit_s > best[0]):
            best = (exit_s, stay)
    return None if best is None else best[1]


def _cover_seconds(
    cover: Sequence[CoveredInterval], start_s: int, end_s: int
) -> list[tuple[int, int, CoveredInterval]]:
    """Covered intervals clipped to the stay, in local seconds, disjoint and sorted."""
    found: list[tuple[int, int, CoveredInterval]] = []
    for interval in merge_cover(cover):
        c_start = max(start_s, to_local(interval.start, "cover.start")[1])
        c_end = min(end_s, to_local(interval.end, "cover.end")[1])
        if c_start < c_end:
            found.append((c_start, c_end, interval))
    return found


def _free_line(clock: _Clock, start: int, end: int) -> QuoteLine:
    return QuoteLine(
        kind=LineKind.FREE,
        rule="free_period",
        label="免费时长",
        start=clock.at(start),
        end=clock.at(end),
        day=date.fromordinal(start // DAY),
        day_type=None,
        units=0,
        unit_minutes=0,
        gross_fen=0,
        amount_fen=0,
        free_minutes=-(-(end - start) // 60),
    )


def _review(tariff: Tariff, duration: int, total: int) -> tuple[str, ...]:
    """Reasons the quote is implausible enough to need a human, if any."""
    reasons: list[str] = []
    limits = tariff.review
    if limits.max_stay_minutes is not None and duration > limits.max_stay_minutes * 60:
        reasons.append(f"stay longer than {limits.max_stay_minutes // 60} h")
    if limits.max_fee_fen is not None and total > limits.max_fee_fen:
        reasons.append(f"fee above {limits.max_fee_fen} fen")
    return tuple(reasons)


def quote_stay(
    tariff: Tariff,
    entry: datetime,
    exit: datetime,
    *,
    vehicle_class: str = "small",
    calendar: DayCalendar | None = None,
    prior: Sequence[PricedStay] = (),
    location: str | None = None,
    cover: Sequence[CoveredInterval] = (),
    paid_fen: int = 0,
    paid_at: datetime | None = None,
    lost_ticket: bool = False,
) -> Quote:
    """Price a stay after the plate's earlier stays in the same scope; total is the increment."""
    entry_local, entry_s = to_local(entry, "entry")
    exit_local, exit_s = to_local(exit, "exit")
    if exit_s < entry_s:
        raise StayError("exit lies before entry")
    if paid_fen < 0:
        raise StayError("paid_fen must not be negative")
    rules = tariff.rules_for(vehicle_class)
    context = tariff.contexts[vehicle_class]
    continued = _continued(tariff, entry_s, prior, location) if prior else None
    others: Sequence[PricedStay] = prior
    stay_local, stay_s = entry_local, entry_s
    if continued is not None:
        others = [stay for stay in prior if stay is not continued]
        stay_local, stay_s = to_local(continued.entry, "prior.entry")
    clock = _Clock(stay_local, stay_s)
    paid_local: datetime | None = None
    if paid_at is not None:
        paid_local, paid_s = to_local(paid_at, "paid_at")
        if exit_s <= paid_s + tariff.grace_minutes * 60:
            return _grace_quote(context, entry_local, exit_local, paid_local)
    kinds = _Kinds(calendar or _DEFAULT_CALENDAR)
    free = _free_available(tariff, rules, stay_s // DAY, others)
    duration = exit_s - stay_s
    out: list[QuoteLine] = []
    by_day: dict[int, int] = {}
    if duration <= free:
        free_used = duration
        if duration:
            out.append(_free_line(clock, stay_s, exit_s))
    else:
        charge_s, free_used = stay_s, 0
        if free and tariff.free_when_exceeded:
            charge_s, free_used = stay_s + free, free
            out.append(_free_line(clock, stay_s, charge_s))
        covered = _cover_seconds(cover, stay_s, exit_s) if cover else []
        _charge(tariff, rules, kinds, charge_s, exit_s, stay_s, covered, others, clock, out, by_day)
    subtotal = sum(line.amount_fen for line in out)
    total = subtotal
    if continued is not None:
        deduction = min(continued.total_fen, total)
        out.append(_deduction(LineKind.CONTINUED, "已收前次停车费", clock.at(stay_s), -deduction))
        total -= deduction
        for day_value, amount in continued.charged_by_day.items():
            ordinal = day_value.toordinal()
            by_day[ordinal] = by_day.get(ordinal, 0) - amount
    if paid_fen:
        deduction = min(paid_fen, total)
        out.append(_deduction(LineKind.PAID, "已缴", paid_local, -deduction))
        total -= deduction
    if lost_ticket:
        total += _lost_ticket(tariff, out, exit_local)
    return Quote(
        context=context,
        entry=entry_local,
        exit=exit_local,
        stay_entry=stay_local,
        lines=tuple(out),
        total_fen=total,
        charged_by_day={date.fromordinal(day): fen for day, fen in sorted(by_day.items()) if fen},
        free_seconds_used=free_used,
        review_reasons=_review(tariff, duration, total),
        continued_from=continued,
        free_seconds_granted=free,
        day_types=kinds.seen(stay_s // DAY, (exit_s - 1) // DAY),
    )


def _charge(
    tariff: Tariff,
    rules: VehicleRules,
    kinds: Callable[[int], DayType],
    charge_s: int,
    exit_s: int,
    stay_s: int,
    covered: list[tuple[int, int, CoveredInterval]],
    others: Sequence[PricedStay],
    clock: _Clock,
    out: list[QuoteLine],
    by_day: dict[int, int],
) -> None:
    """Append the band, cover and minimum-charge lines of [charge_s, exit_s) to ``out``."""
    rolling = tariff.cap_period is CapPeriod.ROLLING_24H
    period_base = stay_s % DAY if rolling else 0
    spans = [(start, end) for start, end, _ in covered]
    raws = _band_lines(tariff, rules, kinds, charge_s, exit_s, period_base, spans)
    prior_by_day: dict[int, int] = {}
    if others and tariff.plate_day.cap_across_stays and not rolling:
        for stay in others:
            for day_value, amount in stay.charged_by_day.items():
                ordinal = day_value.toordinal()
                prior_by_day[ordinal] = prior_by_day.get(ordinal, 0) + amount
    remaining = _period_caps(tariff, rules, kinds, raws, period_base, prior_by_day)
    stay_left = _stay_cap(raws, rules.stay_cap_fen)
    charged = 0
    first_charged: _Raw | None = None
    for raw in raws:
        band = raw.band
        day = raw.start // DAY
        if raw.amount:
            by_day[day] = by_day.get(day, 0) + raw.amount
            charged += raw.amount
            first_charged = first_charged or raw
        out.append(
            QuoteLine(
                kind=LineKind.BAND,
                rule=band.name,
                label=band.label,
                start=clock.at(raw.start),
                end=clock.at(raw.end),
                day=date.fromordinal(day),
                day_type=raw.kind,
                units=raw.units,
                unit_minutes=band.unit_minutes,
                gross_fen=raw.gross,
                amount_fen=raw.amount,
                caps_applied=raw.caps,
            )
        )
    for start, end, interval in covered:
        out.append(_cover_line(clock, start, end, interval))
    if covered:
        out.sort(key=lambda line: (line.start or clock.origin, line.kind is not LineKind.FREE))
    minimum = rules.minimum_charge_fen
    if first_charged is not None and charged < minimum:
        top_up = min(minimum - charged, remaining[first_charged.period], stay_left)
        if top_up > 0:
            day = first_charged.start // DAY
            by_day[day] += top_up
            out.append(
                QuoteLine(
                    kind=LineKind.MINIMUM,
                    rule="minimum_charge",
                    label="最低收费补足",
                    start=None,
                    end=None,
                    day=date.fromordinal(day),
                    day_type=None,
                    units=0,
                    unit_minutes=0,
                    gross_fen=top_up,
                    amount_fen=top_up,
                )
            )


def _cover_line(clock: _Clock, start: int, end: int, interval: CoveredInterval) -> QuoteLine:
    return QuoteLine(
        kind=LineKind.COVERED,
        rule=interval.right_id,
        label=interval.label,
        start=clock.at(start),
        end=clock.at(end),
        day=date.fromordinal(start // DAY),
        day_type=None,
        units=0,
        unit_minutes=0,
        gross_fen=0,
        amount_fen=0,
    )


def _deduction(kind: LineKind, label: str, at: datetime | None, amount: int) -> QuoteLine:
    return QuoteLine(
        kind=kind,
        rule=kind.value,
        label=label,
        start=at,
        end=None,
        day=None,
        day_type=None,
        units=0,
        unit_minutes=0,
        gross_fen=amount,
        amount_fen=amount,
    )


def _lost_ticket(tariff: Tariff, out: list[QuoteLine], exit_local: datetime) -> int:
    fee = tariff.lost_ticket_fee_fen
    if fee is None:
        raise BillingError(f"tariff {tariff.id} defines no lost-ticket fee")
    out.append(
        QuoteLine(
            kind=LineKind.LOST_TICKET,
            rule="lost_ticket",
            label="遗失停车凭证",
            start=exit_local,
            end=None,
            day=exit_local.date(),
            day_type=None,
            units=0,
            unit_minutes=0,
            gross_fen=fee,
            amount_fen=fee,
        )
    )
    return fee


def _grace_quote(
    context: QuoteContext, entry: datetime, exit_local: datetime, paid_local: datetime
) -> Quote:
    line = QuoteLine(
        kind=LineKind.GRACE,
        rule="grace_period",
        label="缴费后宽限期内离场",
        start=paid_local,
        end=exit_local,
        day=exit_local.date(),
        day_type=None,
        units=0,
        unit_minutes=0,
        gross_fen=0,
        amount_fen=0,
    )
    return Quote(
        context=context,
        entry=entry,
        exit=exit_local,
        stay_entry=entry,
        lines=(line,),
        total_fen=0,
        charged_by_day={},
        free_seconds_used=0,
        review_reasons=(),
    )


def quote(
    tariff: Tariff,
    entry: datetime,
    exit: datetime,
    *,
    vehicle_class: str = "small",
    calendar: DayCalendar | None = None,
) -> Quote:
    """Price one stay on its own (no earlier stays, passes or payments)."""
    return quote_stay(tariff, entry, exit, vehicle_class=vehicle_class, calendar=calendar)


def quote_lost_ticket(
    tariff: Tariff,
    exit: datetime,
    *,
    entry: datetime | None = None,
    vehicle_class: str = "small",
    calendar: DayCalendar | None = None,
) -> Quote:
    """Price a lost ticket: the stay (when the entry is known) plus the lost-ticket fee."""
    if entry is not None:
        return quote_stay(
            tariff, entry, exit, vehicle_class=vehicle_class, calendar=calendar, lost_ticket=True
        )
    tariff.rules_for(vehicle_class)
    exit_local, _ = to_local(exit, "exit")
    out: list[QuoteLine] = []
    total = _lost_ticket(tariff, out, exit_local)
    return Quote(
        context=tariff.contexts[vehicle_class],
        entry=None,
        exit=exit_local,
        stay_entry=None,
        lines=tuple(out),
        total_fen=total,
        charged_by_day={},
        free_seconds_used=0,
        review_reasons=_review(tariff, 0, total),
    )
