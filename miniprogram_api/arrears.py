"""The driver's view of a verified plate's arrears, with the late-fee rule explained."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field

from core.plates import parse_plate
from core.services import late_fees
from miniprogram_api.session import current_driver
from server.http import ApiRoutes, json_response
from server.resources import clock, read_unit_of_work

routes = ApiRoutes("miniprogram")


class MyOwedStayOut(BaseModel):
    """A stay the plate still owes."""

    stay_ref: str
    exited_at: datetime
    due_fen: int
    late_fee_fen: int = Field(description="0 while the city has no late fee")
    late_fee_paused: bool = Field(description="an appeal of the stay is open")


class MyLateFeeOut(BaseModel):
    """The city's rule as the driver reads it."""

    enabled: bool
    text: str
    legal_basis: str


class MyPlateArrearsOut(BaseModel):
    """What the plate owes and the late fee on it."""

    plate: str
    due_fen: int
    late_fee_fen: int
    late_fee: MyLateFeeOut
    stays: list[MyOwedStayOut]


@routes.route(
    "GET",
    "/me/plates/{plate}/arrears",
    "A verified plate's unpaid stays with any late fee and its legal basis (driver token)",
    response=MyPlateArrearsOut,
)
async def show_arrears(request: web.Request, _: None) -> web.Response:
    """The arrears view of the mini-program."""
    driver_id = current_driver(request)
    plate = parse_plate(request.match_info["plate"])
    async with read_unit_of_work(request) as uow:
        owed = await late_fees.plate_owed(uow, clock(request), driver_id, plate.number)
    return json_response(
        MyPlateArrearsOut(
            plate=owed.plate,
            due_fen=owed.due_fen,
            late_fee_fen=owed.late_fee_fen,
            late_fee=MyLateFeeOut(
                enabled=owed.rule.enabled, text=owed.rule_text, legal_basis=owed.rule.legal_basis
            ),
            stays=[
                MyOwedStayOut(
                    stay_ref=s.stay_ref,
                    exited_at=s.exited_at,
                    due_fen=s.due_fen,
                    late_fee_fen=s.late_fee_fen,
                    late_fee_paused=s.paused,
                )
                for s in owed.stays
            ],
        )
    )
