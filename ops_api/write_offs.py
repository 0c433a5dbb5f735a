"""Routes of arrears write-offs (坏账核销): request with a reason, a second person decides."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field

from core.services import write_offs
from core.staff import Permission, covers
from core.write_offs import WriteOff, WriteOffNotFoundError, WriteOffStatus
from ops_api.auth import acting_staff
from server.http import ApiRoutes, json_response
from server.input_limits import parse_row_id
from server.resources import clock, read_unit_of_work, unit_of_work

routes = ApiRoutes("ops")


class WriteOffIn(BaseModel):
    """Why the arrear cannot be recovered (scrapped car, unknown owner, time-barred...)."""

    reason: str = Field(min_length=4, max_length=500)


class WriteOffDecisionIn(BaseModel):
    """The approver's note."""

    note: str = Field(min_length=2, max_length=500)


class WriteOffOut(BaseModel):
    """A write-off request and its decision."""

    id: int
    reference: str
    stay_ref: str
    plate: str
    operator_code: str
    amount_fen: int
    reason: str
    status: WriteOffStatus
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None


class WriteOffsOut(BaseModel):
    """Requests, newest first."""

    write_offs: list[WriteOffOut]


class WriteOffQuery(BaseModel):
    """Narrow the list to one status."""

    status: WriteOffStatus | None = None
    limit: int = Field(100, ge=1, le=500)


def write_off_out(found: WriteOff) -> WriteOffOut:
    """The response shape of a write-off."""
    return WriteOffOut(
        id=found.id,
        reference=found.reference,
        stay_ref=found.stay_ref,
        plate=found.plate,
        operator_code=found.operator_code,
        amount_fen=found.amount_fen,
        reason=found.reason,
        status=found.status,
        requested_by=found.requested_by,
        requested_at=found.requested_at,
        decided_by=found.decided_by,
        decided_at=found.decided_at,
        decision_note=found.decision_note,
    )


@routes.route(
    "POST",
    "/arrears/{ref}/write-offs",
    "Ask for an arrear to be written off, with the reason (audited; a second person approves)",
    body=WriteOffIn,
    response=WriteOffOut,
    permission=Permission.WRITE_OFFS_REQUEST,
    status=201,
)
async def request_write_off(request: web.Request, body: WriteOffIn) -> web.Response:
    """Record the request for what the stay owes now."""
    async with unit_of_work(request) as uow:
        found = await write_offs.request_write_off(
            uow, clock(request), acting_staff(request), request.match_info["ref"], body.reason
        )
    return json_response(write_off_out(found), status=201)


@routes.route(
    "GET",
    "/write-offs",
    "Write-off requests in scope, newest first",
    query=WriteOffQuery,
    response=WriteOffsOut,
    permission=Permission.ARREARS_READ,
)
async def list_write_offs(request: web.Request, query: WriteOffQuery) -> web.Response:
    """Pending ones for approvers; decided ones for the record."""
    scope = acting_staff(request).scope
    async with read_unit_of_work(request) as uow:
        found = await uow.write_offs.listed(query.status, limit=query.limit)
    shown = [write_off_out(w) for w in found if covers(scope, operator_code=w.operator_code)]
    return json_response(WriteOffsOut(write_offs=shown))


@routes.route(
    "POST",
    "/write-offs/{id}/approval",
    "Approve another person's write-off: the arrear is booked as a bad debt (audited)",
    body=WriteOffDecisionIn,
    response=WriteOffOut,
    permission=Permission.WRITE_OFFS_APPROVE,
)
async def approve_write_off(request: web.Request, body: WriteOffDecisionIn) -> web.Response:
    """Apply it; never one's own."""
    async with unit_of_work(request) as uow:
        found = await write_offs.approve(
            uow, clock(request), acting_staff(request), _id(request), body.note
        )
    return json_response(write_off_out(found))


@routes.route(
    "POST",
    "/write-offs/{id}/rejection",
    "Refuse another person's write-off, saying why (audited)",
    body=WriteOffDecisionIn,
    response=WriteOffOut,
    permission=Permission.WRITE_OFFS_APPROVE,
)
async def reject_write_off(request: web.Request, body: WriteOffDecisionIn) -> web.Response:
    """Refuse it; the arrear stays on the list."""
    async with unit_of_work(request) as uow:
        found = await write_offs.reject(
            uow, clock(request), acting_staff(request), _id(request), body.note
        )
    return json_response(write_off_out(found))


def _id(request: web.Request) -> int:
    found = parse_row_id(request.match_info["id"])
    if found is None:
        raise WriteOffNotFoundError(detail=request.match_info["id"])
    return found
