"""HTTP transport of lane devices in gated lots: each read answered with the lane's decision."""

from __future__ import annotations

import base64
import logging
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from core.lane_events import LaneRead
from core.services import lanes
from device_bridge.formats import dahua_itc, hikvision_isapi, lane_json, vzenith
from device_bridge.formats.lane_controls import controls_for
from device_bridge.intake import Intake, decide_lane
from server.http import ApiRoutes, json_response, read_json
from server.lane_publishing import CommandOut
from server.resources import CALENDAR_KEY, clock, unit_of_work

log = logging.getLogger(__name__)

routes = ApiRoutes("lanes")


class LaneDecisionAck(BaseModel):
    """The centre's decision for the car at the lane; a resend gets the same answer."""

    outcome: str
    passage_ref: str | None = None
    action: str | None = None
    gate: str = "closed"
    reason: str | None = None
    display: str | None = None
    stay_ref: str | None = None
    fee_fen: int | None = None
    pay_url: str | None = None
    commands: list[CommandOut] = []
    voice: str | None = Field(None, description="the voice prompt; none when the lane is silent")
    led_frames: list[str] = Field(
        [], description="base64 frames for the lane's LED controller (its profile's format)"
    )


class LaneEventAck(BaseModel):
    """What the centre did with a gate report or an intercom call."""

    outcome: str


def ack_of(outcome: lanes.LaneOutcome) -> LaneDecisionAck:
    """The HTTP answer for an outcome."""
    body = lanes.as_dict(outcome)
    opens = any(c.kind.value == "open_gate" for c in outcome.commands)
    controls = controls_for(outcome)
    return LaneDecisionAck(
        **body,
        gate="open" if opens else "closed",
        commands=[
            CommandOut(kind=c.kind.value, text=c.text, pay_url=c.pay_url) for c in outcome.commands
        ],
        voice=controls.texts.voice if controls else None,
        led_frames=[base64.b64encode(f).decode("ascii") for f in controls.frames]
        if controls
        else [],
    )


async def take_read(request: web.Request, read: LaneRead) -> lanes.LaneOutcome:
    """Apply one read in its own transaction, then what follows it (as over MQTT)."""
    calendar = request.config_dict[CALENDAR_KEY]
    outcome = await decide_lane(unit_of_work(request), clock(request), calendar, read, "http")
    await Intake.of(request.config_dict).after_decision(outcome)
    return outcome


async def take_pushed(
    request: web.Request, read: LaneRead, images: dict[str, bytes]
) -> lanes.LaneOutcome:
    """Keep a push's pictures (before the read that names them), then apply the read."""
    await Intake.of(request.config_dict).keep_images(images)
    return await take_read(request, read)


@routes.route(
    "POST",
    "/lanes/reads",
    "A plate read at a lane (own JSON); the answer is the lane's decision",
    body=lane_json.LaneReadPayload,
    response=LaneDecisionAck,
)
async def receive_read(request: web.Request, body: lane_json.LaneReadPayload) -> web.Response:
    """Decide for the car at the lane."""
    return json_response(ack_of(await take_read(request, lane_json.to_read(body))))


@routes.route(
    "POST",
    "/lanes/gates",
    "A barrier's state (own JSON); a fault puts the lane in the attendant's queue",
    body=lane_json.GatePayload,
    response=LaneEventAck,
)
async def receive_gate(request: web.Request, body: lane_json.GatePayload) -> web.Response:
    """Keep a barrier's state."""
    async with unit_of_work(request) as uow:
        outcome = await lanes.on_gate_report(uow, clock(request), lane_json.to_gate(body))
    return json_response(LaneEventAck(outcome=outcome))


@routes.route(
    "POST",
    "/lanes/intercom",
    "A driver pressed the lane's call button (own JSON)",
    body=lane_json.IntercomPayload,
    response=LaneEventAck,
)
async def receive_intercom(request: web.Request, body: lane_json.IntercomPayload) -> web.Response:
    """Put the lane in the attendant's queue."""
    async with unit_of_work(request) as uow:
        outcome = await lanes.on_intercom_call(uow, clock(request), lane_json.to_intercom(body))
    return json_response(LaneEventAck(outcome=outcome))


@routes.route(
    "POST",
    "/lanes/vendors/vzenith/{device}",
    "A Vzenith (臻识) camera's AlarmInfoPlate push; the reply opens the barrier when allowed",
)
async def receive_vzenith(request: web.Request, _: Any) -> web.Response:
    """Parse the vendor push, decide, and answer in the vendor's reply format."""
    read = vzenith.parse(await read_json(request), device_code=request.match_info["device"])
    outcome = await take_read(request, read)
    return web.json_response(vzenith.reply(read, outcome.decision, controls_for(outcome)))


@routes.route(
    "POST",
    "/lanes/vendors/hikvision/{device}",
    "A Hikvision (海康) ANPR camera's ISAPI EventNotificationAlert: multipart with the XML and "
    "the plate picture, or the bare XML; the answer is the lane's decision",
    response=LaneDecisionAck,
)
async def receive_hikvision(request: web.Request, _: Any) -> web.Response:
    """Parse the alarm, keep its pictures, decide; the camera only needs the 200."""
    parsed = hikvision_isapi.parse(
        await request.read(),
        request.headers.get("Content-Type", ""),
        device_code=request.match_info["device"],
    )
    return json_response(ack_of(await take_pushed(request, parsed.read, parsed.images)))


@routes.route(
    "POST",
    "/lanes/vendors/dahua/{device}",
    "A Dahua (大华) ITC camera's TollgateInfo push (ITSAPI JSON); `Result` true stops resends",
)
async def receive_dahua(request: web.Request, _: Any) -> web.Response:
    """Parse the push, keep its pictures, decide, and acknowledge in Dahua's format."""
    parsed = dahua_itc.parse(await read_json(request), device_code=request.match_info["device"])
    await take_pushed(request, parsed.read, parsed.images)
    return web.json_response(dahua_itc.ACK)
