"""Driver routes about prices: what parking here would cost, before parking."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, Field

from core.services.pricing import TariffQuote
from core.services.tariffs import preview_price
from server.http import ApiRoutes, json_response
from server.resources import CALENDAR_KEY, clock, read_unit_of_work

routes = ApiRoutes("miniprogram")


class PricePreviewQuery(BaseModel):
    """Where, from when and for how long."""

    place: str = Field(min_length=1, max_length=32, description="berth, zone or lot code")
    minutes: int = Field(ge=1, le=60 * 24 * 31, description="planned stay in minutes")
    start: AwareDatetime | None = Field(None, description="ISO 8601 with offset; default now")
    vehicle_class: str = Field("small", max_length=16)


class PricePreviewOut(BaseModel):
    """The fee a planned stay would cost, with its breakdown."""

    place: str
    start: datetime
    minutes: int
    total_fen: int
    explanation: str
    tariff_code: str
    tariff_version: int
    lines: list[dict[str, Any]]


async def quote_planned_stay(
    request: web.Request, query: PricePreviewQuery
) -> tuple[datetime, TariffQuote]:
    """When the stay starts (now by default) and what the billing engine charges for it."""
    start = query.start or clock(request).now()
    async with read_unit_of_work(request) as uow:
        priced = await preview_price(
            uow,
            request.config_dict[CALENDAR_KEY],
            query.place,
            start,
            query.minutes,
            query.vehicle_class,
        )
    return start, priced


@routes.route(
    "GET",
    "/price-preview",
    "How much a stay of some minutes would cost at a berth, zone or lot",
    query=PricePreviewQuery,
    response=PricePreviewOut,
)
async def show_price_preview(request: web.Request, query: PricePreviewQuery) -> web.Response:
    """Quote a planned stay."""
    start, priced = await quote_planned_stay(request, query)
    body = priced.quote.to_dict()
    return json_response(
        PricePreviewOut(
            place=query.place,
            start=start,
            minutes=query.minutes,
            total_fen=priced.quote.total_fen,
            explanation=body["explanation_zh"],
            tariff_code=priced.tariff_code,
            tariff_version=priced.tariff_version,
            lines=body["lines"],
        )
    )
