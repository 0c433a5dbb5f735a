"""Officer routes of on-street arrears: the list, a plate's file, notices served, escalation."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web
from pydantic import BaseModel, Field

from core.arrears import (
    ArrearsAction,
    ArrearsCursorError,
    ArrearsFilter,
    ArrearsOrder,
    ArrearsStep,
    age_days,
)
from core.errors import ValidationFailedError
from core.plates import parse_plate
from core.services import arrears
from core.staff import Permission
from ops_api.auth import acting_staff
from server.http import ApiRoutes, json_response
from server.resources import SETTINGS_KEY, clock, read_unit_of_work, unit_of_work

routes = ApiRoutes("ops")


class ArrearsQuery(BaseModel):
    """Filters and paging of the officer's list."""

    zone: str | None = Field(None, max_length=32)
    street: str | None = Field(None, max_length=128)
    district: str | None = Field(None, max_length=32)
    min_fen: int = Field(1, ge=1, description="at least this much due")
    min_age_days: int = Field(0, ge=0, le=3650, description="unpaid for at least this many days")
    order: ArrearsOrder = ArrearsOrder.OLDEST
    after: str | None = Field(None, max_length=64, description="next_cursor of the last page")
    limit: int = Field(50, ge=1, le=200)


class ArrearsActionOut(BaseModel):
    """A step taken on an unpaid stay."""

    step: ArrearsStep
    actor: str
    at: datetime
    note: str
    evidence: str | None


class ArrearsOut(BaseModel):
    """An unpaid on-street stay with where its chase stands."""

    ref: str
    plate: str
    due_fen: int
    entered_at: datetime
    exited_at: datetime
    age_days: int
    berth: str
    street: str | None
    zone: str
    operator: str
    stage: str = Field(description="open, notice_served or escalated")
    actions: list[ArrearsActionOut]


class ArrearsPageOut(BaseModel):
    """One page of the list; pass next_cursor as `after` for the next."""

    arrears: list[ArrearsOut]
    next_cursor: str | None


class EvidenceOut(BaseModel):
    """A camera image of the stay."""

    taken_at: datetime
    ref: str


class PlateArrearsEntryOut(ArrearsOut):
    """An unpaid stay of the plate with its camera evidence."""

    evidence: list[EvidenceOut]


class PlateArrearsOut(BaseModel):
    """What a plate owes on the street."""

    plate: str
    total_fen: int
    arrears: list[PlateArrearsEntryOut]


class StepIn(BaseModel):
    """Why, and the evidence (a photo of the notice on the windscreen, a post receipt)."""

    note: str = Field(min_length=2, max_length=500)
    evidence: str | None = Field(None, max_length=256)


def _action_out(action: ArrearsAction) -> ArrearsActionOut:
    return ArrearsActionOut(
        step=action.step,
        actor=action.actor,
        at=action.at,
        note=action.note,
        evidence=action.evidence,
    )


def _entry_fields(entry: arrears.ArrearsEntry, now: datetime) -> dict[str, object]:
    item = entry.item
    return {
        "ref": item.ref,
        "plate": item.plate,
        "due_fen": item.due_fen,
        "entered_at": item.entered_at,
        "exited_at": item.exited_at,
        "age_days": age_days(item.exited_at, now),
        "berth": item.berth,
        "street": item.street,
        "zone": item.zone,
        "operator": item.operator,
        "stage": entry.stage.value,
        "actions": [_action_out(a) for a in entry.actions],
    }


def arrears_filter(query: ArrearsQuery, now: datetime) -> ArrearsFilter:
    """The list's filter as the service takes it (the console's list shares it)."""
    return ArrearsFilter(
        zone=query.zone,
        street=query.street,
        district=query.district,
        min_fen=query.min_fen,
        left_before=now - timedelta(days=query.min_age_days) if query.min_age_days else None,
        order=query.order,
        after=query.after,
        limit=query.limit,
    )


@routes.route(
    "GET",
    "/arrears",
    "Unpaid on-street stays in the officer's scope, oldest or largest first, by keyset pages",
    query=ArrearsQuery,
    response=ArrearsPageOut,
    permission=Permission.ARREARS_READ,
)
async def list_arrears(request: web.Request, query: ArrearsQuery) -> web.Response:
    """One page of the arrears list."""
    now = clock(request).now()
    wanted = arrears_filter(query, now)
    try:
        async with read_unit_of_work(request) as uow:
            entries = await arrears.list_arrears(uow, acting_staff(request), wanted)
    except ArrearsCursorError:
        raise ValidationFailedError("分页参数无效", detail="bad arrears cursor") from None
    full = len(entries) == query.limit
    cursor = entries[-1].item.cursor(query.order) if full else None
    page = [ArrearsOut.model_validate(_entry_fields(e, now)) for e in entries]
    return json_response(ArrearsPageOut(arrears=page, next_cursor=cursor))


@routes.route(
    "GET",
    "/arrears/plates/{plate}",
    "A plate's unpaid on-street stays with steps taken and camera evidence",
    response=PlateArrearsOut,
    permission=Permission.ARREARS_READ,
)
async def show_plate_arrears(request: web.Request, _: None) -> web.Response:
    """Look up a plate."""
    plate = parse_plate(request.match_info["plate"])
    now = clock(request).now()
    async with read_unit_of_work(request) as uow:
        found = await arrears.plate_arrears(uow, acting_staff(request), plate)
    entries = [
        PlateArrearsEntryOut.model_validate(
            {
                **_entry_fields(entry, now),
                "evidence": [EvidenceOut(taken_at=e.taken_at, ref=e.ref) for e in evidence],
            }
        )
        for entry, evidence in found.entries
    ]
    return json_response(
        PlateArrearsOut(plate=found.plate, total_fen=found.total_fen, arrears=entries)
    )


async def _step(request: web.Request, body: StepIn, step: ArrearsStep) -> web.Response:
    settings = request.config_dict[SETTINGS_KEY]
    async with unit_of_work(request) as uow:
        entry = await arrears.take_step(
            uow,
            clock(request),
            acting_staff(request),
            request.match_info["ref"],
            step,
            body.note,
            body.evidence,
            timedelta(days=settings.arrears_escalate_after_days),
        )
    return json_response(ArrearsOut.model_validate(_entry_fields(entry, clock(request).now())))


@routes.route(
    "POST",
    "/arrears/{ref}/notices",
    "Record a payment notice (催缴通知) served for an unpaid stay (audited)",
    body=StepIn,
    response=ArrearsOut,
    permission=Permission.ARREARS_MANAGE,
)
async def serve_notice(request: web.Request, body: StepIn) -> web.Response:
    """Note the notice served."""
    return await _step(request, body, ArrearsStep.NOTICE_SERVED)


@routes.route(
    "POST",
    "/arrears/{ref}/escalations",
    "Hand an unpaid stay to the traffic police once its notice period has passed (audited)",
    body=StepIn,
    response=ArrearsOut,
    permission=Permission.ARREARS_MANAGE,
)
async def escalate(request: web.Request, body: StepIn) -> web.Response:
    """Note the escalation."""
    return await _step(request, body, ArrearsStep.ESCALATED)
