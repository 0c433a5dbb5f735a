"""HTTP webhooks of berth sensors and video: one event, one transaction."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from core.services.berth_events import record_berth_event
from device_bridge.formats import own_json
from server.http import ApiRoutes, json_response
from server.resources import CALENDAR_KEY, clock, unit_of_work

routes = ApiRoutes("devices")


class EventAck(BaseModel):
    """What the centre did with an event; a duplicate is acknowledged, not re-applied."""

    outcome: str
    stay_ref: str | None = None
    fee_fen: int | None = None


@routes.route(
    "POST",
    "/sensors/events",
    "A berth sensor or video event in the project's own JSON",
    body=own_json.BerthEventPayload,
    response=EventAck,
)
async def receive_berth_event(
    request: web.Request, body: own_json.BerthEventPayload
) -> web.Response:
    """Apply one berth event."""
    event = own_json.to_event(body)
    async with unit_of_work(request) as uow:
        result = await record_berth_event(
            uow, clock(request), request.config_dict[CALENDAR_KEY], event
        )
    ack = EventAck(outcome=result.outcome.value, stay_ref=result.stay_ref, fee_fen=result.fee_fen)
    return json_response(ack)
