"""The remote attendant view: lanes waiting for a human, and what can be done at each."""

from __future__ import annotations

from aiohttp import web

from console.forms import form_of
from console.rendering import render
from console.session import page, staff_of
from core.plates import parse_plate
from core.services import attendant
from core.staff import Permission
from ops_api.lanes import ConfirmFeeIn, CorrectPlateIn, CreateEntryIn, LiftIn
from server.input_limits import parse_row_id
from server.lane_publishing import publish_lane_commands
from server.resources import CALENDAR_KEY, clock, read_unit_of_work, unit_of_work

routes = web.RouteTableDef()
LANES = Permission.LANE_CONTROL


def _task_id(request: web.Request) -> int:
    found = parse_row_id(request.match_info["task_id"])
    if found is None:
        raise attendant.TaskNotFoundError(detail=request.match_info["task_id"])
    return found


@routes.get("/lanes")
@page(LANES)
async def lanes_page(request: web.Request) -> web.Response:
    """Open attendant tasks, then lane devices in fault, in the account's lots."""
    async with read_unit_of_work(request) as uow:
        items = await attendant.queue(uow, staff_of(request))
    return render(request, "lanes/queue.html", {"items": items})


async def _done(request: web.Request, result: attendant.ActionResult) -> web.Response:
    await publish_lane_commands(request, result.commands)
    return render(request, "lanes/_result.html", {"result": result})


@routes.post("/lanes/tasks/{task_id}/plate")
@page(LANES)
async def correct_plate(request: web.Request) -> web.Response:
    """Read the plate off the image and decide the lane again."""
    body = await form_of(request, CorrectPlateIn)
    async with unit_of_work(request) as uow:
        result = await attendant.correct_plate(
            uow,
            clock(request),
            request.config_dict[CALENDAR_KEY],
            staff_of(request),
            _task_id(request),
            parse_plate(body.plate),
            body.reason,
        )
    return await _done(request, result)


@routes.post("/lanes/tasks/{task_id}/entry")
@page(LANES)
async def create_entry(request: web.Request) -> web.Response:
    """Create the missing entry of an exit; without a time the lost-ticket rule charges."""
    body = await form_of(request, CreateEntryIn)
    async with unit_of_work(request) as uow:
        result = await attendant.create_entry(
            uow,
            clock(request),
            request.config_dict[CALENDAR_KEY],
            staff_of(request),
            _task_id(request),
            body.entered_at,
            body.reason,
        )
    return await _done(request, result)


@routes.post("/lanes/tasks/{task_id}/fee")
@page(LANES)
async def confirm_fee(request: web.Request) -> web.Response:
    """Confirm or set the fee of a held exit."""
    body = await form_of(request, ConfirmFeeIn)
    async with unit_of_work(request) as uow:
        result = await attendant.confirm_fee(
            uow,
            clock(request),
            request.config_dict[CALENDAR_KEY],
            staff_of(request),
            _task_id(request),
            body.fee_fen,
            body.reason,
        )
    return await _done(request, result)


@routes.post("/lanes/{lot}/{lane}/lift")
@page(LANES)
async def lift(request: web.Request) -> web.Response:
    """Lift the barrier by hand (audited), settling a task if one is named."""
    body = await form_of(request, LiftIn)
    async with unit_of_work(request) as uow:
        result = await attendant.lift_gate(
            uow,
            clock(request),
            request.config_dict[CALENDAR_KEY],
            staff_of(request),
            request.match_info["lot"],
            request.match_info["lane"],
            body.reason,
            body.task_id,
        )
    return await _done(request, result)
