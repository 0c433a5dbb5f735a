"""Driver routes about stays: what a plate owes now."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from core.plates import parse_plate
from core.services.stays import StayView, list_plate_stays
from server.http import ApiRoutes, json_response
from server.resources import CALENDAR_KEY, clock, unit_of_work

routes = ApiRoutes("miniprogram")


class StayOut(BaseModel):
    """A stay as a driver sees it before the plate binding is verified: no images, no history."""

    ref: str
    plate: str
    status: str = Field(description="open, closed or review")
    place: str = Field(description="berth code or lot name")
    entered_at: datetime
    exited_at: datetime | None
    fee_fen: int | None = Field(description="final fee; for an open stay, the fee so far")
    explanation: str | None = Field(description="how the fee was worked out, in Chinese")
    lines: list[dict[str, Any]] = Field(default_factory=list)


class PlateStaysOut(BaseModel):
    """A plate's open and recent stays."""

    plate: str
    stays: list[StayOut]


@routes.route(
    "GET",
    "/plates/{plate}/stays",
    "Open and recent stays of a plate, with fees (pay-for-my-plate view)",
    response=PlateStaysOut,
)
async def show_plate_stays(request: web.Request, _: None) -> web.Response:
    """List a plate's stays so it can be paid."""
    plate = parse_plate(request.match_info["plate"])
    async with unit_of_work(request) as uow:
        views = await list_plate_stays(
            uow, clock(request), request.config_dict[CALENDAR_KEY], plate
        )
    return json_response(PlateStaysOut(plate=plate.number, stays=[_stay_out(v) for v in views]))


def _stay_out(view: StayView) -> StayOut:
    return StayOut(
        ref=view.ref,
        plate=view.plate,
        status=view.status,
        place=view.place,
        entered_at=view.entered_at,
        exited_at=view.exited_at,
        fee_fen=view.fee_fen,
        explanation=view.explanation,
        lines=view.lines,
    )
