"""Officer pages: the arrears list, plate lookup on patrol, a stay's evidence, notices served."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from pydantic import BaseModel, Field

from console.forms import filled_query, form_of, query_of
from console.rendering import render, see_other
from console.session import page, staff_of
from core.arrears import ArrearsCursorError, ArrearsOrder, ArrearsStep, age_days
from core.errors import ValidationFailedError
from core.plates import parse_plate
from core.services import appeals, arrears
from core.staff import Permission
from ops_api.arrears import ArrearsQuery, StepIn, arrears_filter
from server.resources import SETTINGS_KEY, clock, read_unit_of_work, unit_of_work

routes = web.RouteTableDef()
PATROL = Permission.PATROL


class PlateQuery(BaseModel):
    """A plate typed (or read) on patrol."""

    plate: str | None = Field(None, max_length=16)


@routes.get("/officer/arrears")
@page(PATROL)
async def arrears_list(request: web.Request) -> web.Response:
    """Unpaid on-street stays in the officer's scope, filtered and paged."""
    query = query_of(request, ArrearsQuery)
    now = clock(request).now()
    try:
        async with read_unit_of_work(request) as uow:
            entries = await arrears.list_arrears(uow, staff_of(request), arrears_filter(query, now))
    except ArrearsCursorError:
        raise ValidationFailedError("分页参数无效", detail="bad arrears cursor") from None
    cursor = entries[-1].item.cursor(query.order) if len(entries) == query.limit else None
    rows = [(entry, age_days(entry.item.exited_at, now)) for entry in entries]
    context = {
        "rows": rows,
        "cursor": cursor,
        "filters": filled_query(request),
        "orders": ArrearsOrder,
    }
    return render(request, "officer/arrears.html", context)


@routes.get("/officer/plate")
@page(PATROL)
async def plate_lookup(request: web.Request) -> web.Response:
    """What a plate owes on the street, with camera evidence (a fragment for htmx)."""
    query = query_of(request, PlateQuery)
    found = None
    if query.plate:
        async with read_unit_of_work(request) as uow:
            found = await arrears.plate_arrears(uow, staff_of(request), parse_plate(query.plate))
    template = "officer/_plate.html" if request.headers.get("HX-Request") else "officer/plate.html"
    return render(request, template, {"found": found, "plate": query.plate or ""})


@routes.get("/officer/stays/{ref}")
@page(Permission.STAYS_READ, PATROL)
async def stay_evidence(request: web.Request) -> web.Response:
    """A stay's times, sensor trace, lane reads and images, and the notice form."""
    ref = request.match_info["ref"]
    async with read_unit_of_work(request) as uow:
        found = await appeals.stay_evidence_by_ref(uow, clock(request), staff_of(request), ref)
    return render(request, "officer/stay.html", {"evidence": found, "ref": ref})


@routes.post("/officer/stays/{ref}/notices")
@page(Permission.ARREARS_MANAGE, PATROL)
async def serve_notice(request: web.Request) -> web.Response:
    """Record a payment notice (催缴通知) served on an unpaid stay; back to its evidence."""
    body = await form_of(request, StepIn)
    ref = request.match_info["ref"]
    settings = request.config_dict[SETTINGS_KEY]
    async with unit_of_work(request) as uow:
        await arrears.take_step(
            uow,
            clock(request),
            staff_of(request),
            ref,
            ArrearsStep.NOTICE_SERVED,
            body.note,
            body.evidence,
            timedelta(days=settings.arrears_escalate_after_days),
        )
    return see_other(f"/console/officer/stays/{ref}?served=1")
