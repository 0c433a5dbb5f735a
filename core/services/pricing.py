"""Pricing a stay with the tariff version in force when it started."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.billing import DayCalendar, Quote, parse_tariff, quote
from core.errors import DomainError
from core.store.unit_of_work import UnitOfWork


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


async def price_interval(
    uow: UnitOfWork,
    tariff_code: str,
    entered_at: datetime,
    exited_at: datetime,
    vehicle_class: str,
    calendar: DayCalendar,
) -> TariffQuote:
    """Quote an interval with the tariff version in effect at its start."""
    row = await uow.tariffs.version_at(tariff_code, entered_at)
    if row is None:
        raise TariffMissingError(detail=f"no version of {tariff_code} at {entered_at}")
    tariff = parse_tariff(row.body)
    result = quote(tariff, entered_at, exited_at, vehicle_class=vehicle_class, calendar=calendar)
    return TariffQuote(result, row.code, row.version)
