"""Drivers redeem a merchant's validation for their car in the lot (single use)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from core.plates import parse_plate
from core.services import validations
from server.http import ApiRoutes, json_response
from server.rate_limits import limit_plate_lookups
from server.resources import SETTINGS_KEY, clock, unit_of_work

routes = ApiRoutes("mp")


class RedeemIn(BaseModel):
    """The token from the merchant's QR code and the plate of the car in the lot."""

    token: str = Field(min_length=10, max_length=512)
    plate: str = Field(max_length=16)


class RedeemOut(BaseModel):
    """The stay the validation now belongs to; it is applied at the exit."""

    stay_ref: str


@routes.route(
    "POST",
    "/validations",
    "Redeem a merchant validation for a car now in the merchant's lot",
    body=RedeemIn,
    response=RedeemOut,
    status=201,
)
async def redeem(request: web.Request, body: RedeemIn) -> web.Response:
    """Attach the validation to the car's stay."""
    await limit_plate_lookups(request)  # it says whether a plate is in the lot
    secret = request.config_dict[SETTINGS_KEY].secret_key.get_secret_value()
    async with unit_of_work(request) as uow:
        stay_ref = await validations.redeem(
            uow, clock(request), secret, body.token, parse_plate(body.plate)
        )
    return json_response(RedeemOut(stay_ref=stay_ref), status=201)
