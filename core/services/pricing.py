"""Pricing stays with the tariff version in force at entry and the plate's day so far."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol, TypeVar

from core.billing import DayCalendar, PricedStay, Quote, Tariff, parse_tariff, quote_stay
from core.errors import DomainError
from core.store.activity import StayRow
from core.store.unit_of_work import UnitOfWork

# Prior stays that can still share a natural day or a rolling 24 hours with a new entry.
PRIOR_WINDOW = timedelta(hours=25)

# Parsed tariff versions of this process, by (code, version, effective_from). Versions are
# only ever added, never edited, but the body is compared on every hit (a dict comparison,
# far cheaper than parsing) so a different database with the same key is never priced with
# the wrong document. Bounded: emptied when full.
_PARSED: dict[tuple[str, int, datetime], tuple[dict[str, Any], Tariff]] = {}
_PARSED_MAX = 256


class TariffMissingError(DomainError):
    """No tariff version covers the stay; pricing must not guess."""

    code = "tariff_missing"
    status = 500
    message_zh = "收费标准缺失，请联系运营方"


@dataclass(frozen=True, slots=True)
class TariffQuote:
    """A quote and the tariff version that produced it."""

    quote: Quote
    tariff_code: str
    tariff_version: int


class StoredTariff(Protocol):
    """A stored tariff version: a row, or a copy of one kept by the process."""

    @property
    def code(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def effective_from(self) -> datetime: ...
    @property
    def body(self) -> dict[str, Any]: ...


T = TypeVar("T", bound=StoredTariff)


def parsed_tariff(row: StoredTariff) -> Tariff:
    """A stored tariff version parsed, once per process while its body stays the same."""
    key = (row.code, row.version, row.effective_from)
    cached = _PARSED.get(key)
    if cached is not None and cached[0] == row.body:
        return cached[1]
    tariff = parse_tariff(row.body)
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    _PARSED[key] = (copy.deepcopy(row.body), tariff)
    return tariff


async def price_interval(
    uow: UnitOfWork,
    tariff_code: str,
    entered_at: datetime,
    exited_at: datetime,
    vehicle_class: str,
    calendar: DayCalendar,
    *,
    prior: tuple[PricedStay, ...] = (),
    location: str | None = None,
) -> TariffQuote:
    """Quote an interval with the tariff version in effect at its start."""
    row = await uow.tariffs.version_at(tariff_code, entered_at)
    if row is None:
        raise TariffMissingError(detail=f"no version of {tariff_code} at {entered_at}")
    result = quote_stay(
        parsed_tariff(row),
        entered_at,
        exited_at,
        vehicle_class=vehicle_class,
        calendar=calendar,
        prior=prior,
        location=location,
    )
    return TariffQuote(result, row.code, row.version)


async def price_street_stay(
    uow: UnitOfWork, stay: StayRow, exited_at: datetime, calendar: DayCalendar
) -> TariffQuote:
    """Price an on-street stay as part of its plate's day in zones of the same class."""
    if stay.zone_id is None or stay.berth_id is None:
        raise ValueError("an on-street stay needs a zone and a berth")
    zone = await uow.city.zone(stay.zone_id)
    street = await uow.city.berth_street(stay.berth_id)
    prior: tuple[PricedStay, ...] = ()
    if stay.plate is not None:
        earlier = await uow.stays.closed_in_zone_class(
            stay.plate, zone.zone_class, stay.entered_at - PRIOR_WINDOW, stay.entered_at, stay.id
        )
        prior = tuple(_as_priced(row, row_street) for row, row_street in earlier)
    return await price_interval(
        uow,
        zone.tariff_code,
        stay.entered_at,
        exited_at,
        stay.vehicle_class,
        calendar,
        prior=prior,
        location=street,
    )


def _as_priced(row: StayRow, street: str | None) -> PricedStay:
    """An earlier closed stay as the engine needs it, from its stored quote."""
    assert row.exited_at is not None
    return prior_stay(row.entered_at, row.exited_at, row.fee_fen, row.quote, street)


def prior_stay(
    entered_at: datetime,
    exited_at: datetime,
    fee_fen: int | None,
    quote: dict[str, Any] | None,
    street: str | None,
) -> PricedStay:
    """An earlier closed stay as the engine needs it, from its stored columns."""
    stored = quote or {}
    by_day = {
        date.fromisoformat(day): int(fen) for day, fen in stored.get("charged_by_day", {}).items()
    }
    return PricedStay(
        entry=entered_at,
        exit=exited_at,
        # What the stay charged, not what is still due after payments.
        total_fen=int(stored.get("charged_fen", fee_fen or 0)),
        charged_by_day=by_day,
        free_seconds_used=int(stored.get("free_seconds_used", 0)),
        location=street,
    )


def version_in_force(rows: Iterable[T], moment: datetime) -> T | None:
    """Of one tariff's versions, the newest already in effect at a moment (as `version_at`)."""
    in_force = [row for row in rows if row.effective_from <= moment]
    return max(in_force, key=lambda row: (row.effective_from, row.version), default=None)
