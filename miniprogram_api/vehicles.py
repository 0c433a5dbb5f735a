"""Driver routes of plates: bind, unbind, list, verify with the 行驶证 (driver token)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from core.plates import PlateColour, parse_plate, parse_plate_colour
from core.services import vehicles
from core.vehicles import LicenceClaim
from miniprogram_api.session import current_driver
from server.driver_features import DRIVER_PORTS_KEY
from server.http import ApiRoutes, json_response
from server.resources import SETTINGS_KEY, clock, unit_of_work

routes = ApiRoutes("miniprogram")


class BindIn(BaseModel):
    """A plate as the driver typed it, and its colour when not the usual one."""

    plate: str = Field(min_length=1, max_length=20, examples=["浙B12345"])
    colour: PlateColour | None = Field(None, description="WeChat plate colour; default by shape")


class LicenceIn(BaseModel):
    """What the driver reads off the 行驶证."""

    vin: str = Field(min_length=17, max_length=17, pattern=r"^[A-HJ-NPR-Z0-9]{17}$")
    owner_name: str = Field(min_length=1, max_length=32)


class PlateOut(BaseModel):
    """A bound plate; only a verified one shows its history."""

    plate: str
    colour: PlateColour
    bound_at: datetime
    verified: bool = Field(description="a 行驶证 check: every stay of the plate is shown")
    verified_by: str | None = Field(description="licence or payment")
    paid_stays_only: bool = Field(
        False, description="verified by paying after scanning the stay: only the stays it paid"
    )


class PlatesOut(BaseModel):
    """The driver's plates and how many a driver may bind."""

    plates: list[PlateOut]
    limit: int


class UnboundOut(BaseModel):
    """The plate the driver no longer has bound."""

    plate: str
    unbound: bool


def _out(bound: vehicles.BoundPlate) -> PlateOut:
    return PlateOut(
        plate=bound.plate,
        colour=PlateColour(bound.colour),
        bound_at=bound.bound_at,
        verified=bound.verified,
        verified_by=bound.verified_by,
        paid_stays_only=bound.paid_stays_only,
    )


@routes.route("GET", "/me/plates", "The driver's bound plates (driver token)", response=PlatesOut)
async def show_plates(request: web.Request, _: Any) -> web.Response:
    """List the plates."""
    driver_id = current_driver(request)
    async with unit_of_work(request) as uow:
        found = await vehicles.list_plates(uow, driver_id)
    limit = request.config_dict[SETTINGS_KEY].max_plates_per_driver
    return json_response(PlatesOut(plates=[_out(b) for b in found], limit=limit))


@routes.route("POST", "/me/plates", "Bind a plate (driver token)", body=BindIn, response=PlateOut)
async def bind(request: web.Request, body: BindIn) -> web.Response:
    """Bind a plate; binding it again answers the same binding."""
    driver_id = current_driver(request)
    plate = parse_plate(body.plate)
    colour = parse_plate_colour(body.colour.value if body.colour else None, plate)
    limit = request.config_dict[SETTINGS_KEY].max_plates_per_driver
    async with unit_of_work(request) as uow:
        bound = await vehicles.bind_plate(uow, clock(request), driver_id, plate, colour, limit)
    return json_response(_out(bound))


@routes.route("DELETE", "/me/plates/{plate}", "Unbind a plate (driver token)", response=UnboundOut)
async def unbind(request: web.Request, _: Any) -> web.Response:
    """Remove the driver's binding of a plate."""
    driver_id = current_driver(request)
    plate = parse_plate(request.match_info["plate"])
    async with unit_of_work(request) as uow:
        await vehicles.unbind_plate(uow, driver_id, plate)
    return json_response(UnboundOut(plate=plate.number, unbound=True))


@routes.route(
    "POST",
    "/me/plates/{plate}/licence",
    "Verify a bound plate with its 行驶证 (driver token)",
    body=LicenceIn,
    response=PlateOut,
)
async def verify_licence(request: web.Request, body: LicenceIn) -> web.Response:
    """Check the licence against the vehicle register and mark the binding verified."""
    driver_id = current_driver(request)
    claim = LicenceClaim(parse_plate(request.match_info["plate"]), body.vin, body.owner_name)
    verifier = request.config_dict[DRIVER_PORTS_KEY].licences
    async with unit_of_work(request) as uow:
        bound = await vehicles.verify_by_licence(uow, clock(request), verifier, driver_id, claim)
    return json_response(_out(bound))
