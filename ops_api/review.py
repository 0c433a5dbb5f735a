"""Staff routes of what needs a human: the berth review queue and illegal-parking captures."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field

from core.services import device_ops
from core.staff import Permission
from device_bridge.intake import berth_rules
from server.http import ApiRoutes, json_response
from server.input_limits import INT32_MAX
from server.resources import SETTINGS_KEY, clock, unit_of_work

routes = ApiRoutes("ops")


class UnplacedEventOut(BaseModel):
    """A berth event that is not part of any stay: noise, or a plate read waiting for a stay."""

    dedupe_key: str
    kind: str
    berth: str
    device: str
    device_time: datetime
    plate: str | None
    role: str = Field(description="noise or waiting")
    reason: str | None


class RefusedEventOut(BaseModel):
    """An event kept for review that will not be retried."""

    dedupe_key: str
    kind: str
    device: str
    device_time: datetime
    note: str | None


class ReviewStayOut(BaseModel):
    """A stay a human should look at, and why."""

    ref: str
    berth: str
    plate: str | None
    status: str
    entered_at: datetime
    exited_at: datetime | None
    reason: str


class ReviewOut(BaseModel):
    """The review queue of on-street berths."""

    unplaced_events: list[UnplacedEventOut]
    refused_events: list[RefusedEventOut]
    stays: list[ReviewStayOut]


class ReviewQuery(BaseModel):
    """How many of each list to show."""

    limit: int = Field(100, ge=1, le=500)


@routes.route(
    "GET",
    "/review/berths",
    "Berth events without a place and stays in doubt (no plate, closed berth, review)",
    query=ReviewQuery,
    response=ReviewOut,
    permission=Permission.STAYS_READ,
)
async def show_review_queue(request: web.Request, query: ReviewQuery) -> web.Response:
    """List what needs a human look."""
    rules = berth_rules(request.config_dict[SETTINGS_KEY])
    async with unit_of_work(request) as uow:
        queue = await device_ops.review_queue(uow, clock(request), rules, limit=query.limit)
    unplaced = [
        UnplacedEventOut(
            dedupe_key=event.dedupe_key,
            kind=row.kind,
            berth=berth,
            device=row.device_code,
            device_time=row.device_time,
            plate=row.plate,
            role=row.role,
            reason=row.note,
        )
        for row, event, berth in queue.unplaced
    ]
    refused = [
        RefusedEventOut(
            dedupe_key=e.dedupe_key,
            kind=e.kind,
            device=e.device_code,
            device_time=e.device_time,
            note=e.note,
        )
        for e in queue.refused
    ]
    stays = [
        ReviewStayOut(
            ref=stay.ref,
            berth=berth,
            plate=stay.plate,
            status=stay.status,
            entered_at=stay.entered_at,
            exited_at=stay.exited_at,
            reason=_stay_reason(stay.status, stay.plate, flag),
        )
        for stay, berth, flag in queue.stays
    ]
    return json_response(ReviewOut(unplaced_events=unplaced, refused_events=refused, stays=stays))


def _stay_reason(status: str, plate: str | None, flag: str | None) -> str:
    if flag is not None:
        return flag
    if plate is None:
        return "no_plate"
    return status


class ViolationQuery(BaseModel):
    """Filter and page of the violation list (newest first)."""

    status: Literal["open", "served", "dismissed"] | None = None
    before_id: int | None = Field(None, ge=1, le=INT32_MAX)
    limit: int = Field(50, ge=1, le=200)


class ViolationOut(BaseModel):
    """An illegal-parking capture with its evidence."""

    id: int
    ref: str
    kind: str = Field(description="outside_berth or closed_berth")
    plate: str | None
    device: str
    berth: str | None
    location: str
    observed_at: datetime
    images: list[str]
    status: str


class ViolationsOut(BaseModel):
    """A page of violations; pass the last id as before_id for the next page."""

    violations: list[ViolationOut]


@routes.route(
    "GET",
    "/violations",
    "Illegal-parking captures (违停抓拍) for enforcement, newest first",
    query=ViolationQuery,
    response=ViolationsOut,
    permission=Permission.ARREARS_READ,
)
async def list_violations(request: web.Request, query: ViolationQuery) -> web.Response:
    """List violations."""
    async with unit_of_work(request) as uow:
        found = await uow.device_ops.violations(
            status=query.status, after_id=query.before_id, limit=query.limit
        )
    return json_response(
        ViolationsOut(
            violations=[
                ViolationOut(
                    id=v.id,
                    ref=v.ref,
                    kind=v.kind,
                    plate=v.plate,
                    device=v.device_code,
                    berth=berth,
                    location=v.location,
                    observed_at=v.observed_at,
                    images=[str(ref) for ref in v.images.get("refs", [])],
                    status=v.status,
                )
                for v, berth in found
            ]
        )
    )
