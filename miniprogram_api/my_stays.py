"""Driver routes of a verified driver's stays: current ones, history, one with its evidence."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from core.services import driver_stays
from core.services.driver_stays import DriverStay
from miniprogram_api.session import current_driver
from server.http import ApiRoutes, json_response
from server.resources import CALENDAR_KEY, clock, read_unit_of_work

routes = ApiRoutes("miniprogram")


class MyStayOut(BaseModel):
    """A stay of one of the driver's verified plates."""

    ref: str
    plate: str
    status: str = Field(description="open, closed or review")
    place: str
    entered_at: datetime
    exited_at: datetime | None
    fee_fen: int | None = Field(description="final fee; for an open stay, the fee so far")
    paid: bool
    tariff: str | None = Field(description="tariff code and version that priced it")


class MyStaysOut(BaseModel):
    """Stays, newest first; `next_before` pages on."""

    stays: list[MyStayOut]
    next_before: str | None = Field(description="pass as `before` for the next page")


class StayPaymentOut(BaseModel):
    """A payment of the stay."""

    out_trade_no: str
    amount_fen: int
    status: str
    paid_at: datetime | None


class ImageOut(BaseModel):
    """A camera image of the stay (berth video or lane camera)."""

    taken_at: datetime
    ref: str


class MyStayDetailOut(MyStayOut):
    """A stay with the breakdown of its fee, its payments and its images."""

    explanation: str | None
    lines: list[dict[str, Any]]
    payments: list[StayPaymentOut]
    images: list[ImageOut]
    auto_pay: str | None = Field(
        description="无感支付: deductible, blocked, deducting (deduction pending), deducted, "
        "failed (pay it as arrears) or skipped; null when the plate is not in the service"
    )


class HistoryQuery(BaseModel):
    """A page of history."""

    limit: int = Field(20, ge=1, le=50)
    before: str | None = Field(None, min_length=1, max_length=32, description="a stay ref")


def _out(stay: DriverStay) -> MyStayOut:
    v = stay.view
    return MyStayOut(
        ref=v.ref,
        plate=v.plate,
        status=v.status,
        place=v.place,
        entered_at=v.entered_at,
        exited_at=v.exited_at,
        fee_fen=v.fee_fen,
        paid=stay.paid,
        tariff=stay.tariff,
    )


@routes.route(
    "GET",
    "/me/stays/current",
    "Open stays of the driver's verified plates, priced up to now (driver token)",
    response=MyStaysOut,
)
async def show_current(request: web.Request, _: Any) -> web.Response:
    """List the open stays."""
    driver_id = current_driver(request)
    async with read_unit_of_work(request) as uow:
        found = await driver_stays.current_stays(
            uow, clock(request), request.config_dict[CALENDAR_KEY], driver_id
        )
    return json_response(MyStaysOut(stays=[_out(s) for s in found], next_before=None))


@routes.route(
    "GET",
    "/me/stays",
    "History of the driver's verified plates, newest first (driver token)",
    query=HistoryQuery,
    response=MyStaysOut,
)
async def show_history(request: web.Request, query: HistoryQuery) -> web.Response:
    """A page of ended stays."""
    driver_id = current_driver(request)
    async with read_unit_of_work(request) as uow:
        found = await driver_stays.stay_history(
            uow,
            clock(request),
            request.config_dict[CALENDAR_KEY],
            driver_id,
            limit=query.limit,
            before_ref=query.before,
        )
    after = found[-1].view.ref if len(found) == query.limit else None
    return json_response(MyStaysOut(stays=[_out(s) for s in found], next_before=after))


@routes.route(
    "GET",
    "/me/stays/{ref}",
    "One stay of a verified plate with fee breakdown, payments and images (driver token)",
    response=MyStayDetailOut,
)
async def show_detail(request: web.Request, _: Any) -> web.Response:
    """The stay with its evidence."""
    driver_id = current_driver(request)
    async with read_unit_of_work(request) as uow:
        stay = await driver_stays.stay_detail(
            uow,
            clock(request),
            request.config_dict[CALENDAR_KEY],
            driver_id,
            request.match_info["ref"],
        )
    base = _out(stay).model_dump()
    return json_response(
        MyStayDetailOut(
            **base,
            explanation=stay.view.explanation,
            lines=stay.view.lines,
            payments=[
                StayPaymentOut(
                    out_trade_no=p.out_trade_no,
                    amount_fen=p.amount_fen,
                    status=p.status.value,
                    paid_at=p.paid_at,
                )
                for p in stay.payments
            ],
            images=[ImageOut(taken_at=i.taken_at, ref=i.ref) for i in stay.images],
            auto_pay=stay.auto_pay,
        )
    )
