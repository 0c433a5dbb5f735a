"""The remote attendant's console (云坐席): the live queue of lanes and the actions on them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from core.plates import parse_plate
from core.services import attendant
from core.services.lane_snapshot import lot_snapshot
from core.staff import Permission
from ops_api.auth import acting_staff
from server.http import ApiRoutes, json_response
from server.input_limits import INT32_MAX, parse_row_id
from server.lane_publishing import CommandOut, publish_lane_commands
from server.resources import CALENDAR_KEY, clock, unit_of_work

routes = ApiRoutes("ops")

Reason = Annotated[str, StringConstraints(min_length=2, max_length=500, strip_whitespace=True)]


class QueueItemOut(BaseModel):
    """A lane waiting for a human."""

    task_id: int | None
    lot: str
    lane: str
    reason: str = Field(description="no_match, ambiguous, implausible_fee, stale_stay, ...")
    since: datetime | None
    passage_ref: str | None
    direction: str | None
    plate: str | None
    image_ref: str | None
    display: str | None
    fee_fen: int | None
    candidates: list[str]
    device: str | None
    note: str


class QueueOut(BaseModel):
    """The live queue, oldest first."""

    items: list[QueueItemOut]


class ActionOut(BaseModel):
    """What the action did at the lane."""

    action: str
    reason: str
    display: str
    stay_ref: str | None
    fee_fen: int | None
    task_closed: bool
    commands: list[CommandOut]


class CorrectPlateIn(BaseModel):
    """The plate the attendant reads on the image."""

    plate: str = Field(max_length=16)
    reason: Reason


class CreateEntryIn(BaseModel):
    """When the car entered; absent means unknown: the tariff's lost-ticket rule applies."""

    entered_at: AwareDatetime | None = None
    reason: Reason


class ConfirmFeeIn(BaseModel):
    """The fee the attendant confirms or sets, in fen."""

    fee_fen: int = Field(ge=0, le=10_000_000)
    reason: Reason


class LiftIn(BaseModel):
    """Why the barrier is lifted by hand, and the task it settles, if any."""

    reason: Reason
    task_id: int | None = Field(None, ge=1, le=INT32_MAX)


async def _answer(request: web.Request, result: attendant.ActionResult) -> web.Response:
    await publish_lane_commands(request, result.commands)
    return json_response(
        ActionOut(
            action=result.action,
            reason=result.reason,
            display=result.display,
            stay_ref=result.stay_ref,
            fee_fen=result.fee_fen,
            task_closed=result.task_closed,
            commands=[
                CommandOut(kind=c.kind.value, text=c.text, pay_url=c.pay_url)
                for c in result.commands
            ],
        )
    )


@routes.route(
    "GET",
    "/lanes/queue",
    "The remote attendant's live queue of lanes needing a human",
    response=QueueOut,
    permission=Permission.LANE_CONTROL,
)
async def show_queue(request: web.Request, _: None) -> web.Response:
    """List open tasks and faulty lane devices in the attendant's lots."""
    async with unit_of_work(request) as uow:
        items = await attendant.queue(uow, acting_staff(request))
    return json_response(
        QueueOut(items=[QueueItemOut.model_validate(item, from_attributes=True) for item in items])
    )


def _task_id(request: web.Request) -> int:
    task_id = parse_row_id(request.match_info["task_id"])
    if task_id is None:
        raise attendant.TaskNotFoundError(detail=request.match_info["task_id"])
    return task_id


@routes.route(
    "POST",
    "/lanes/tasks/{task_id}/plate",
    "Correct a misread plate and decide again",
    body=CorrectPlateIn,
    response=ActionOut,
    permission=Permission.LANE_CONTROL,
)
async def correct_plate(request: web.Request, body: CorrectPlateIn) -> web.Response:
    """Apply the plate the attendant read."""
    async with unit_of_work(request) as uow:
        result = await attendant.correct_plate(
            uow,
            clock(request),
            request.config_dict[CALENDAR_KEY],
            acting_staff(request),
            _task_id(request),
            parse_plate(body.plate),
            body.reason,
        )
    return await _answer(request, result)


@routes.route(
    "POST",
    "/lanes/tasks/{task_id}/entry",
    "Create the missing entry of an exit (no time: the lost-ticket rule)",
    body=CreateEntryIn,
    response=ActionOut,
    permission=Permission.LANE_CONTROL,
)
async def create_entry(request: web.Request, body: CreateEntryIn) -> web.Response:
    """Create the entry and bill the exit."""
    async with unit_of_work(request) as uow:
        result = await attendant.create_entry(
            uow,
            clock(request),
            request.config_dict[CALENDAR_KEY],
            acting_staff(request),
            _task_id(request),
            body.entered_at,
            body.reason,
        )
    return await _answer(request, result)


@routes.route(
    "POST",
    "/lanes/tasks/{task_id}/fee",
    "Confirm or adjust the fee of a held exit, with a reason",
    body=ConfirmFeeIn,
    response=ActionOut,
    permission=Permission.LANE_CONTROL,
)
async def confirm_fee(request: web.Request, body: ConfirmFeeIn) -> web.Response:
    """Bill the exit with the confirmed fee."""
    async with unit_of_work(request) as uow:
        result = await attendant.confirm_fee(
            uow,
            clock(request),
            request.config_dict[CALENDAR_KEY],
            acting_staff(request),
            _task_id(request),
            body.fee_fen,
            body.reason,
        )
    return await _answer(request, result)


@routes.route(
    "POST",
    "/lanes/{lot}/{lane}/lift",
    "Lift a lane's barrier by hand, with a reason (and the task it settles)",
    body=LiftIn,
    response=ActionOut,
    permission=Permission.LANE_CONTROL,
)
async def lift(request: web.Request, body: LiftIn) -> web.Response:
    """Open the lane."""
    async with unit_of_work(request) as uow:
        result = await attendant.lift_gate(
            uow,
            clock(request),
            request.config_dict[CALENDAR_KEY],
            acting_staff(request),
            request.match_info["lot"],
            request.match_info["lane"],
            body.reason,
            body.task_id,
        )
    return await _answer(request, result)


class LotSnapshotOut(BaseModel):
    """What a lane agent needs to run a lot's gates while the centre is away."""

    format: int
    lot: str
    hospital: bool
    block_refuses: bool
    devices: dict[str, list[str]] = Field(description="camera device code -> [lane, direction]")
    rights: list[dict[str, Any]] = Field(description="passes, spaces and cards with their plates")
    blocked: list[str]
    tariff_code: str
    tariff_version: int
    tariff_body: dict[str, Any]
    taken_at: str


@routes.route(
    "GET",
    "/lanes/{lot}/snapshot",
    "A lot's passes, residents, block list and tariff version, for its lane agent (read-only)",
    response=LotSnapshotOut,
    permission=Permission.LANE_CONTROL,
)
async def snapshot(request: web.Request, _: None) -> web.Response:
    """Serve the lot's snapshot."""
    async with unit_of_work(request) as uow:
        found = await lot_snapshot(
            uow, clock(request), request.match_info["lot"], acting_staff(request)
        )
    return json_response(LotSnapshotOut.model_validate(found.to_dict()))
