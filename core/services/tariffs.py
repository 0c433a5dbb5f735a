"""Use cases of tariffs: publish a new version, list versions, preview a price."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from core.billing import (
    CalendarUnknownError,
    DayCalendar,
    TariffError,
    VehicleClassError,
    parse_tariff,
)
from core.clock import Clock
from core.errors import NotFoundError, ValidationFailedError
from core.services.audit import record
from core.services.pricing import TariffQuote, price_interval
from core.staff import StaffIdentity
from core.store.city import TariffRow
from core.store.unit_of_work import UnitOfWork


class InvalidTariffError(ValidationFailedError):
    """A tariff document failed validation; the message names the field."""

    code = "invalid_tariff"


class UnknownVehicleClassError(ValidationFailedError):
    """The tariff has no prices for the vehicle class asked about."""

    code = "unknown_vehicle_class"
    message_zh = "该停车场不支持此车型"


class CalendarNotPublishedError(ValidationFailedError):
    """The holiday calendar does not know a day yet, so no price can be promised."""

    code = "calendar_unknown"
    status = 422
    message_zh = "该日期的节假日安排尚未公布，暂无法估价"


class UnknownPlaceError(NotFoundError):
    """A price preview named no known berth, zone or lot."""

    code = "unknown_place"
    message_zh = "未找到该泊位、路段或停车场"


async def publish_tariff(
    uow: UnitOfWork,
    clock: Clock,
    staff: StaffIdentity | str,
    document: Mapping[str, object],
    reason: str,
) -> TariffRow:
    """Validate a tariff document and store it as the next version of its id, audited."""
    try:
        tariff = parse_tariff(document)
    except TariffError as exc:
        raise InvalidTariffError(f"收费标准有误：{exc}", detail=str(exc)) from None
    now = clock.now()
    effective_from = tariff.effective_from or now
    if effective_from < now - timedelta(minutes=1):
        # Back-dating would silently re-price stays already closed under the old version.
        raise InvalidTariffError("生效时间不能早于当前时间", detail="effective_from in the past")
    version = await uow.tariffs.latest_version(tariff.id) + 1
    row = TariffRow(
        code=tariff.id,
        version=version,
        effective_from=effective_from,
        body=tariff.to_dict(),
        created_at=now,
    )
    uow.tariffs.add(row)
    await record(
        uow,
        clock,
        staff,
        "tariff.publish",
        f"tariff:{tariff.id}",
        reason,
        {"version": version, "effective_from": effective_from.isoformat()},
    )
    await uow.commit()
    return row


async def preview_price(
    uow: UnitOfWork,
    calendar: DayCalendar,
    place: str,
    start: datetime,
    minutes: int,
    vehicle_class: str,
) -> TariffQuote:
    """What a stay of some minutes from start would cost at a berth, zone or lot."""
    tariff_code = await _tariff_code_of(uow, place)
    end = start + timedelta(minutes=minutes)
    try:
        return await price_interval(uow, tariff_code, start, end, vehicle_class, calendar)
    except VehicleClassError as exc:
        raise UnknownVehicleClassError(detail=str(exc)) from None
    except CalendarUnknownError as exc:
        raise CalendarNotPublishedError(detail=str(exc)) from None


async def _tariff_code_of(uow: UnitOfWork, place: str) -> str:
    berth = await uow.city.berth_by_code(place)
    if berth is not None:
        if berth.zone_id is not None:
            return (await uow.city.zone(berth.zone_id)).tariff_code
        if berth.lot_id is not None:
            return (await uow.city.lot(berth.lot_id)).tariff_code
    zone = await uow.city.zone_by_code(place)
    if zone is not None:
        return zone.tariff_code
    lot = await uow.city.lot_by_code(place)
    if lot is not None:
        return lot.tariff_code
    raise UnknownPlaceError(detail=f"place {place!r}")
