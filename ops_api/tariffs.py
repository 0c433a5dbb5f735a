"""Staff routes for tariffs and the holiday override table."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from core.billing import DayType
from core.errors import ValidationFailedError
from core.services.calendar import OverridableCalendar, refresh_calendar, set_day_type
from core.services.tariffs import publish_tariff
from core.staff import Permission
from ops_api.auth import acting_staff
from server.http import ApiRoutes, json_response
from server.resources import CALENDAR_KEY, clock, unit_of_work

routes = ApiRoutes("ops")


class TariffVersionOut(BaseModel):
    """One stored version of a tariff."""

    code: str
    version: int
    effective_from: datetime
    created_at: datetime
    body: dict[str, Any]


class TariffListOut(BaseModel):
    """Every stored tariff version."""

    tariffs: list[TariffVersionOut]


class TariffIn(BaseModel):
    """A tariff document (docs/tariffs.md) and why it is published."""

    tariff: dict[str, Any] = Field(description="the tariff document, as in a tariffs/*.toml file")
    reason: str = Field(min_length=1, max_length=500)


class DayTypeIn(BaseModel):
    """The type a day should have, and why."""

    day_type: DayType
    note: str = Field(min_length=1, max_length=200)


class DayTypeOut(BaseModel):
    """An override of the holiday calendar."""

    day: date
    day_type: DayType
    note: str
    created_by: str


class DayTypeListOut(BaseModel):
    """Every override of the holiday calendar."""

    overrides: list[DayTypeOut]


def _version_out(row: Any) -> TariffVersionOut:
    return TariffVersionOut(
        code=row.code,
        version=row.version,
        effective_from=row.effective_from,
        created_at=row.created_at,
        body=row.body,
    )


@routes.route(
    "GET",
    "/tariffs",
    "Every tariff version",
    response=TariffListOut,
    permission=Permission.REPORTS_READ,
)
async def list_tariffs(request: web.Request, _: None) -> web.Response:
    """List tariff versions."""
    async with unit_of_work(request) as uow:
        rows = await uow.tariffs.all_versions()
    return json_response(TariffListOut(tariffs=[_version_out(row) for row in rows]))


@routes.route(
    "POST",
    "/tariffs",
    "Publish the next version of a tariff",
    body=TariffIn,
    response=TariffVersionOut,
    permission=Permission.TARIFFS_MANAGE,
    status=201,
)
async def create_tariff_version(request: web.Request, body: TariffIn) -> web.Response:
    """Validate and store a tariff version."""
    async with unit_of_work(request) as uow:
        row = await publish_tariff(
            uow, clock(request), acting_staff(request), body.tariff, body.reason
        )
    return json_response(_version_out(row), status=201)


@routes.route(
    "GET",
    "/holidays",
    "Overrides of the holiday calendar",
    response=DayTypeListOut,
    permission=Permission.REPORTS_READ,
)
async def list_day_types(request: web.Request, _: None) -> web.Response:
    """List calendar overrides."""
    async with unit_of_work(request) as uow:
        rows = await uow.calendar.overrides()
    return json_response(
        DayTypeListOut(
            overrides=[
                DayTypeOut(
                    day=r.day, day_type=DayType(r.day_type), note=r.note, created_by=r.created_by
                )
                for r in rows
            ]
        )
    )


@routes.route(
    "PUT",
    "/holidays/{day}",
    "Set the type of a day (local holiday, future year)",
    body=DayTypeIn,
    response=DayTypeOut,
    permission=Permission.TARIFFS_MANAGE,
)
async def put_day_type(request: web.Request, body: DayTypeIn) -> web.Response:
    """Override one day of the holiday calendar."""
    day = _parse_day(request.match_info["day"])
    async with unit_of_work(request) as uow:
        row = await set_day_type(
            uow, clock(request), acting_staff(request), day, body.day_type, body.note
        )
        calendar = request.config_dict[CALENDAR_KEY]
        if isinstance(calendar, OverridableCalendar):
            # This worker sees the change at once; the others on their next refresh.
            await refresh_calendar(uow, calendar)
    return json_response(
        DayTypeOut(
            day=row.day, day_type=DayType(row.day_type), note=row.note, created_by=row.created_by
        )
    )


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailedError("日期格式应为 YYYY-MM-DD", detail=text) from None
