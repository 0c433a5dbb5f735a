"""Price a stay: free period, band units, caps, minimum charge, passes and plate-day rules."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime

from core.billing.band_charges import (
    BandCharge,
    apply_period_caps,
    apply_stay_cap,
    charge_bands,
)
from core.billing.day_calendar import ChineseDayCalendar, DayCalendar, DayType
from core.billing.errors import BillingError, StayError
from core.billing.lines import LineKind, PricedStay, QuoteLine
from core.billing.local_time import DAY, SECOND, DayKinds, LocalClock, to_local
from core.billing.plate_day import continued_chain, free_available
from core.billing.quote import Quote
from core.billing.rights import CoveredInterval, merge_cover
from core.billing.tariff import CapPeriod, Tariff, VehicleRules

_DEFAULT_CALENDAR = ChineseDayCalendar()


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


def _free_line(clock: LocalClock, start: int, end: int) -> QuoteLine:
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
    chain = continued_chain(tariff, entry_s, prior, location) if prior else ()
    others: Sequence[PricedStay] = prior
    stay_local, stay_s = entry_local, entry_s
    if chain:
        others = [stay for stay in prior if all(stay is not link for link in chain)]
        stay_local, stay_s = to_local(chain[0].entry, "prior.entry")
    clock = LocalClock(stay_local, stay_s)
    paid_local: datetime | None = None
    if paid_at is not None:
        paid_local, paid_s = to_local(paid_at, "paid_at")
        if paid_s < entry_s:
            raise StayError("paid_at lies before entry")
        if exit_s <= paid_s + tariff.grace_minutes * 60:
            # Leaving within the grace period: the stay ends, for pricing, at the payment.
            paid_for = quote_stay(
                tariff,
                entry,
                paid_local,
                vehicle_class=vehicle_class,
                calendar=calendar,
                prior=prior,
                location=location,
                cover=cover,
            )
            return _grace_quote(paid_for, exit_local, paid_local, paid_fen)
    kinds = DayKinds(calendar or _DEFAULT_CALENDAR)
    free = free_available(tariff, rules, stay_s // DAY, others)
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
    total = stay_fee = sum(line.amount_fen for line in out)  # the whole (continued) stay
    if chain:
        earlier = sum(stay.total_fen for stay in chain)
        deduction = min(earlier, total)
        out.append(_deduction(LineKind.CONTINUED, "已收前次停车费", clock.at(stay_s), -deduction))
        total -= deduction
        free_used = max(0, free_used - sum(stay.free_seconds_used for stay in chain))
        for stay in chain:
            for day_value, amount in stay.charged_by_day.items():
                ordinal = day_value.toordinal()
                by_day[ordinal] = by_day.get(ordinal, 0) - amount
    charged = total
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
        charged_fen=charged,
        charged_by_day={date.fromordinal(day): fen for day, fen in sorted(by_day.items()) if fen},
        free_seconds_used=free_used,
        review_reasons=_review(tariff, duration, stay_fee),
        continued_from=chain,
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
    clock: LocalClock,
    out: list[QuoteLine],
    by_day: dict[int, int],
) -> None:
    """Append the band, cover and minimum-charge lines of [charge_s, exit_s) to ``out``."""
    rolling = tariff.cap_period is CapPeriod.ROLLING_24H
    period_base = stay_s % DAY if rolling else 0
    spans = [(start, end) for start, end, _ in covered]
    raws = charge_bands(tariff, rules, kinds, charge_s, exit_s, period_base, spans)
    prior_by_day: dict[int, int] = {}
    if others and tariff.plate_day.cap_across_stays and not rolling:
        for stay in others:
            for day_value, amount in stay.charged_by_day.items():
                ordinal = day_value.toordinal()
                prior_by_day[ordinal] = prior_by_day.get(ordinal, 0) + amount
    remaining = apply_period_caps(tariff, rules, kinds, raws, period_base, prior_by_day)
    stay_left = apply_stay_cap(raws, rules.stay_cap_fen)
    charged = 0
    first_charged: BandCharge | None = None
    origin, origin_s = clock.origin, clock.origin_s
    days: dict[int, date] = {}
    for raw in raws:
        band = raw.band
        day = raw.start // DAY
        day_date = days.get(day)
        if day_date is None:
            day_date = days[day] = date.fromordinal(day)
        if raw.amount:
            by_day[day] = by_day.get(day, 0) + raw.amount
            charged += raw.amount
            first_charged = first_charged or raw
        out.append(
            QuoteLine(
                LineKind.BAND,
                band.name,
                band.label,
                origin + SECOND * (raw.start - origin_s),
                origin + SECOND * (raw.end - origin_s),
                day_date,
                raw.kind,
                raw.units,
                band.unit_minutes,
                raw.gross,
                raw.amount,
                raw.caps,
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


def _cover_line(clock: LocalClock, start: int, end: int, interval: CoveredInterval) -> QuoteLine:
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


def _grace_quote(paid_for: Quote, exit_local: datetime, paid_local: datetime, paid: int) -> Quote:
    """The stay priced up to the payment, the payment deducted, and the grace time free."""
    lines = list(paid_for.lines)
    total = paid_for.total_fen
    if paid:
        deduction = min(paid, total)
        lines.append(_deduction(LineKind.PAID, "已缴", paid_local, -deduction))
        total -= deduction
    lines.append(
        QuoteLine(
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
    )
    return Quote(
        context=paid_for.context,
        entry=paid_for.entry,
        exit=exit_local,
        stay_entry=paid_for.stay_entry,
        lines=tuple(lines),
        total_fen=total,
        charged_fen=paid_for.charged_fen,
        charged_by_day=paid_for.charged_by_day,
        free_seconds_used=paid_for.free_seconds_used,
        review_reasons=paid_for.review_reasons,
        continued_from=paid_for.continued_from,
        free_seconds_granted=paid_for.free_seconds_granted,
        day_types=paid_for.day_types,
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
        charged_fen=0,
        charged_by_day={},
        free_seconds_used=0,
        review_reasons=_review(tariff, 0, total),
    )
