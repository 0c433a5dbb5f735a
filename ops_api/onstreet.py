"""Staff routes of on-street operations: patrol plates, devices, tickets, closures, review."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, Field

from core.device_health import (
    DeviceHealth,
    HealthPolicy,
    attention_reasons,
    false_trigger_rate,
    is_online,
    last_seen,
)
from core.errors import ValidationFailedError
from core.plates import parse_plate
from core.services import device_ops, patrol
from core.staff import Permission
from core.store.devices import MaintenanceTicketRow
from ops_api.auth import acting_staff
from server.availability import AVAILABILITY_KEY
from server.http import ApiRoutes, json_response
from server.input_limits import parse_row_id
from server.resources import SETTINGS_KEY, clock, unit_of_work

routes = ApiRoutes("ops")


def health_policy(request: web.Request) -> HealthPolicy:
    """The device health thresholds configured in settings."""
    settings = request.config_dict[SETTINGS_KEY]
    return HealthPolicy(
        offline_minutes=settings.device_offline_minutes,
        low_battery_pct=settings.device_low_battery_pct,
        max_false_trigger_rate=settings.device_max_false_trigger_rate,
    )


class PatrolPlateIn(BaseModel):
    """What an officer saw at a berth."""

    berth: str = Field(min_length=1, max_length=32)
    plate: str = Field(min_length=1, max_length=16)
    photo: str = Field(min_length=1, max_length=256, description="photo reference")
    reason: str = Field("巡查录入车牌", min_length=2, max_length=200)


class PatrolPlateOut(BaseModel):
    """The stay that now carries the plate."""

    stay_ref: str
    plate: str
    previous_plate: str | None


@routes.route(
    "POST",
    "/patrol/plates",
    "An officer records the plate of the car at a berth (audited)",
    body=PatrolPlateIn,
    response=PatrolPlateOut,
    permission=Permission.PATROL,
)
async def record_patrol_plate(request: web.Request, body: PatrolPlateIn) -> web.Response:
    """Set the plate of the stay at a berth."""
    plate = parse_plate(body.plate)
    async with unit_of_work(request) as uow:
        result = await patrol.record_patrol_plate(
            uow, clock(request), acting_staff(request), body.berth, plate, body.photo, body.reason
        )
    return json_response(
        PatrolPlateOut(
            stay_ref=result.stay_ref, plate=plate.number, previous_plate=result.previous_plate
        )
    )


class DeviceOut(BaseModel):
    """A device's health as operations see it."""

    code: str
    kind: str
    berth: str | None
    online: bool
    last_seen_at: datetime | None
    last_heartbeat_at: datetime | None
    last_event_at: datetime | None
    battery_pct: int | None
    signal_dbm: int | None
    fault_code: str | None
    false_trigger_rate: float
    open_tickets: int
    attention: list[str] = Field(description="offline, low_battery, fault, false_triggers, ...")


class DevicesOut(BaseModel):
    """Devices needing attention."""

    devices: list[DeviceOut]


def _device_out(health: DeviceHealth, now: datetime, policy: HealthPolicy) -> DeviceOut:
    return DeviceOut(
        code=health.code,
        kind=health.kind,
        berth=health.berth_code,
        online=is_online(health, now, policy),
        last_seen_at=last_seen(health),
        last_heartbeat_at=health.last_heartbeat_at,
        last_event_at=health.last_event_at,
        battery_pct=health.battery_pct,
        signal_dbm=health.signal_dbm,
        fault_code=health.fault_code,
        false_trigger_rate=round(
            false_trigger_rate(health.occupied_count, health.flicker_count), 4
        ),
        open_tickets=health.open_tickets,
        attention=attention_reasons(health, now, policy),
    )


@routes.route(
    "GET",
    "/devices/attention",
    "Berth sensors and video devices needing attention, with the reasons",
    response=DevicesOut,
    permission=Permission.DEVICES_MANAGE,
)
async def list_devices_needing_attention(request: web.Request, _: None) -> web.Response:
    """List devices that are offline, low on battery, faulty or noisy."""
    policy = health_policy(request)
    async with unit_of_work(request) as uow:
        found = await device_ops.needing_attention(uow, clock(request), policy)
    now = clock(request).now()
    return json_response(DevicesOut(devices=[_device_out(h, now, policy) for h, _ in found]))


@routes.route(
    "GET",
    "/devices/{code}",
    "One device's health: online, battery, last event, false-trigger rate",
    response=DeviceOut,
    permission=Permission.DEVICES_MANAGE,
)
async def show_device(request: web.Request, _: None) -> web.Response:
    """Show one device."""
    async with unit_of_work(request) as uow:
        [health] = await device_ops.device_healths(uow, request.match_info["code"])
    return json_response(_device_out(health, clock(request).now(), health_policy(request)))


class TicketIn(BaseModel):
    """Why a technician is needed."""

    reason: str = Field(min_length=2, max_length=500)


class TicketCloseIn(BaseModel):
    """What the technician did."""

    resolution: str = Field(min_length=2, max_length=500)


class TicketOut(BaseModel):
    """A maintenance ticket."""

    id: int
    device: str
    status: str
    reason: str
    opened_by: str
    opened_at: datetime
    closed_by: str | None
    closed_at: datetime | None
    resolution: str | None


@routes.route(
    "POST",
    "/devices/{code}/tickets",
    "Open a maintenance ticket for a device (audited)",
    body=TicketIn,
    response=TicketOut,
    permission=Permission.DEVICES_MANAGE,
    status=201,
)
async def open_ticket(request: web.Request, body: TicketIn) -> web.Response:
    """Open a ticket."""
    code = request.match_info["code"]
    async with unit_of_work(request) as uow:
        row = await device_ops.open_ticket(
            uow, clock(request), acting_staff(request), code, body.reason
        )
    return json_response(_ticket_out(row, code), status=201)


@routes.route(
    "POST",
    "/devices/{code}/tickets/{ticket_id}/close",
    "Close a maintenance ticket with its resolution (audited)",
    body=TicketCloseIn,
    response=TicketOut,
    permission=Permission.DEVICES_MANAGE,
)
async def close_ticket(request: web.Request, body: TicketCloseIn) -> web.Response:
    """Close a ticket."""
    code = request.match_info["code"]
    ticket_id = parse_row_id(request.match_info["ticket_id"])
    if ticket_id is None:
        raise ValidationFailedError("工单编号有误")
    async with unit_of_work(request) as uow:
        row = await device_ops.close_ticket(
            uow, clock(request), acting_staff(request), ticket_id, body.resolution
        )
    return json_response(_ticket_out(row, code))


def _ticket_out(row: MaintenanceTicketRow, code: str) -> TicketOut:
    return TicketOut(
        id=row.id,
        device=code,
        status=row.status,
        reason=row.reason,
        opened_by=row.opened_by,
        opened_at=row.opened_at,
        closed_by=row.closed_by,
        closed_at=row.closed_at,
        resolution=row.resolution,
    )


class ClosureIn(BaseModel):
    """A period a berth is closed; no end means until reopened."""

    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    reason: str = Field(min_length=2, max_length=500, description="e.g. 道路施工")


class ClosureOut(BaseModel):
    """A berth closure and the stays it flagged."""

    id: int
    berth: str
    starts_at: datetime
    ends_at: datetime | None
    reason: str
    flagged_stays: list[str] = Field(default_factory=list)


@routes.route(
    "POST",
    "/berths/{code}/closures",
    "Close a berth for a period (roadworks, events); stays there are flagged (audited)",
    body=ClosureIn,
    response=ClosureOut,
    permission=Permission.DEVICES_MANAGE,
    status=201,
)
async def close_berth(request: web.Request, body: ClosureIn) -> web.Response:
    """Close a berth."""
    code = request.match_info["code"]
    async with unit_of_work(request) as uow:
        row, flagged = await device_ops.close_berth(
            uow,
            clock(request),
            acting_staff(request),
            code,
            body.starts_at,
            body.ends_at,
            body.reason,
        )
    await _refresh_closed(request, code)
    out = ClosureOut(
        id=row.id, berth=code, starts_at=row.starts_at, ends_at=row.ends_at, reason=row.reason
    )
    return json_response(out.model_copy(update={"flagged_stays": flagged}), status=201)


class ReopenIn(BaseModel):
    """Why the berth reopens now."""

    reason: str = Field(min_length=2, max_length=500)


@routes.route(
    "POST",
    "/berth-closures/{closure_id}/end",
    "End a berth closure now (audited)",
    body=ReopenIn,
    response=ClosureOut,
    permission=Permission.DEVICES_MANAGE,
)
async def end_closure(request: web.Request, body: ReopenIn) -> web.Response:
    """Reopen a berth."""
    closure_id = parse_row_id(request.match_info["closure_id"])
    if closure_id is None:
        raise ValidationFailedError("封闭记录编号有误")
    async with unit_of_work(request) as uow:
        row, code = await device_ops.end_closure(
            uow, clock(request), acting_staff(request), closure_id, body.reason
        )
    await _refresh_closed(request, code)
    return json_response(
        ClosureOut(
            id=row.id, berth=code, starts_at=row.starts_at, ends_at=row.ends_at, reason=row.reason
        )
    )


async def _refresh_closed(request: web.Request, code: str) -> None:
    """Show the change in live counts now rather than at the next refresh."""
    store = request.config_dict.get(AVAILABILITY_KEY)
    if store is None:
        return
    async with unit_of_work(request) as uow:
        closed = code in await uow.device_ops.closed_berth_codes(clock(request).now())
    await store.set_closed(code, closed)
