"""HTTP webhooks of berth sensors, video and vendor platforms: one event, one transaction."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from device_bridge.formats import huawei_vias, own_json
from device_bridge.intake import BatchAck, EventAck, Intake, PlateReadAck, summary
from server.http import ApiRoutes, json_response, read_json

routes = ApiRoutes("devices")


def _intake(request: web.Request) -> Intake:
    return Intake.of(request.config_dict)


@routes.route(
    "POST",
    "/sensors/events",
    "A berth sensor or video occupancy event in the project's own JSON",
    body=own_json.BerthEventPayload,
    response=EventAck,
)
async def receive_berth_event(
    request: web.Request, body: own_json.BerthEventPayload
) -> web.Response:
    """Apply one berth event."""
    return json_response(await _intake(request).take(own_json.to_event(body)))


@routes.route(
    "POST",
    "/sensors/events/batch",
    "Berth events a sensor gateway or IoT platform forwards together, in one transaction",
    body=own_json.BerthEventBatchPayload,
    response=BatchAck,
)
async def receive_berth_events(
    request: web.Request, body: own_json.BerthEventBatchPayload
) -> web.Response:
    """Apply up to 500 berth events at once; each gets its own acknowledgement."""
    return json_response(await _intake(request).take_batch(own_json.to_events(body)))


@routes.route(
    "POST",
    "/video/plates",
    "A video plate read at a berth or outside any berth (own JSON)",
    body=own_json.PlateReadPayload,
    response=PlateReadAck,
)
async def receive_plate_read(request: web.Request, body: own_json.PlateReadPayload) -> web.Response:
    """Attach a plate to a stay or record a violation."""
    return json_response(await _intake(request).take(own_json.to_plate_read(body)))


@routes.route(
    "POST",
    "/heartbeats",
    "A device heartbeat with battery and signal (own JSON)",
    body=own_json.HeartbeatPayload,
    response=EventAck,
)
async def receive_heartbeat(request: web.Request, body: own_json.HeartbeatPayload) -> web.Response:
    """Note that a device is alive."""
    return json_response(await _intake(request).take(own_json.to_heartbeat(body)))


@routes.route(
    "POST",
    "/faults",
    "A device fault raised or cleared (own JSON)",
    body=own_json.FaultPayload,
    response=EventAck,
)
async def receive_fault(request: web.Request, body: own_json.FaultPayload) -> web.Response:
    """Raise or clear a device fault."""
    return json_response(await _intake(request).take(own_json.to_fault(body)))


@routes.route(
    "POST",
    "/vendors/huawei-vias/events",
    "Huawei Cloud VIAS abnormal-parking push (event_type 74240), as the vendor sends it",
    response=PlateReadAck,
)
async def receive_huawei_vias(request: web.Request, _: Any) -> web.Response:
    """Apply every vehicle of one VIAS push, each in its own transaction."""
    parsed = huawei_vias.parse(await read_json(request))
    intake = _intake(request)
    await intake.keep_images(parsed.images)
    return json_response(summary([await intake.take(read) for read in parsed.reads]))
