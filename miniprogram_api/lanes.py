"""Drivers of cars without plates (无牌车) scan the lane's QR code to enter and to leave."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel

from core.services import lane_scan
from miniprogram_api.session import current_driver
from server.http import ApiRoutes, json_response
from server.lane_publishing import CommandOut, publish_lane_commands
from server.resources import CALENDAR_KEY, clock, unit_of_work

routes = ApiRoutes("mp")


class ScanOut(BaseModel):
    """What the lane does for the driver: open, or show the fee to pay first."""

    action: str
    display: str
    stay_ref: str | None
    fee_fen: int | None
    pay_url: str | None
    commands: list[CommandOut]


@routes.route(
    "POST",
    "/lanes/{lot}/{lane}/scan",
    "A driver of a car without plates scanned the lane's QR code (needs a session)",
    response=ScanOut,
)
async def scan(request: web.Request, _: Any) -> web.Response:
    """Open the driver's stay at an entry, or price and release it at an exit."""
    driver_id = current_driver(request)
    async with unit_of_work(request) as uow:
        outcome = await lane_scan.scan(
            uow,
            clock(request),
            request.config_dict[CALENDAR_KEY],
            request.match_info["lot"],
            request.match_info["lane"],
            driver_id,
        )
    await publish_lane_commands(request, outcome.commands)
    decision = outcome.decision
    assert decision is not None
    return json_response(
        ScanOut(
            action=decision.action.value,
            display=decision.display_zh,
            stay_ref=outcome.stay_ref,
            fee_fen=outcome.fee_fen,
            pay_url=outcome.pay_url,
            commands=[CommandOut(kind=c.kind.value, text=c.text) for c in outcome.commands],
        )
    )
