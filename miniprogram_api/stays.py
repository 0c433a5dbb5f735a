"""Driver routes about stays: what a typed plate owes now."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from core.plates import parse_plate
from core.services.stays import payable_stays
from server.http import ApiRoutes, json_response
from server.rate_limits import limit_plate_lookups
from server.resources import read_unit_of_work

routes = ApiRoutes("miniprogram")


class PayableStayOut(BaseModel):
    """A stay of the plate with money due: what paying needs, nothing of where or when."""

    ref: str = Field(description="pay it with POST /mp/stays/{ref}/payments")
    plate: str
    due_fen: int = Field(description="what is still due, in fen")


class PlateStaysOut(BaseModel):
    """What a typed plate owes; details need a verified binding (GET /mp/me/stays)."""

    plate: str
    total_due_fen: int
    stays: list[PayableStayOut]


@routes.route(
    "GET",
    "/plates/{plate}/stays",
    "Stays of a plate with money due, amounts only (pay-for-a-plate view; anyone may ask)",
    response=PlateStaysOut,
)
async def show_plate_stays(request: web.Request, _: None) -> web.Response:
    """List what a plate owes so it can be paid."""
    await limit_plate_lookups(request)
    plate = parse_plate(request.match_info["plate"])
    async with read_unit_of_work(request) as uow:  # reads only: no write lock on SQLite
        stays = await payable_stays(uow, plate)
    return json_response(
        PlateStaysOut(
            plate=plate.number,
            total_due_fen=sum(s.due_fen for s in stays),
            stays=[PayableStayOut(ref=s.ref, plate=s.plate, due_fen=s.due_fen) for s in stays],
        )
    )
