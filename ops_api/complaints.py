"""Staff routes of WeChat Pay complaints: take a day's in, read the history, answer, complete."""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from core.services import complaints
from core.staff import Permission
from ops_api.appeals import CaseOut, case_id, case_out
from ops_api.auth import acting_staff
from server.http import ApiRoutes, json_response
from server.resources import clock, read_unit_of_work, unit_of_work
from server.wechat import wechat

routes = ApiRoutes("ops")


class ComplaintEventOut(BaseModel):
    """One step of WeChat Pay's negotiation history."""

    at: datetime
    operator: str
    kind: str = Field(description="WeChat's operate_type, e.g. USER_CREATE_COMPLAINT")
    details: str


class ComplaintHistoryOut(BaseModel):
    """The negotiation history, oldest first."""

    appeal_id: int
    events: list[ComplaintEventOut]


class ComplaintAnswerIn(BaseModel):
    """The answer the payer reads in WeChat (at most 200 characters); complete closes it."""

    text: str = Field(min_length=2, max_length=200)
    complete: bool = False


class ComplaintSyncIn(BaseModel):
    """A day and sub-merchant whose complaints to take in."""

    date: dt.date
    sub_mchid: str = Field(min_length=1, max_length=32, pattern=r"^\d+$")


class ComplaintSyncOut(BaseModel):
    """The complaints now in the queue."""

    items: list[CaseOut]


@routes.route(
    "GET",
    "/complaints/{id}/history",
    "WeChat Pay's negotiation history of a complaint in the queue",
    response=ComplaintHistoryOut,
    permission=Permission.APPEALS_HANDLE,
)
async def complaint_history(request: web.Request, _: Any) -> web.Response:
    """Ask WeChat Pay for the history."""
    appeal_id = case_id(request)
    async with read_unit_of_work(request) as uow:
        events = await complaints.history(
            uow, wechat(request).complaints, acting_staff(request), appeal_id
        )
    return json_response(
        ComplaintHistoryOut(
            appeal_id=appeal_id,
            events=[
                ComplaintEventOut(at=e.at, operator=e.operator, kind=e.kind, details=e.details)
                for e in events
            ],
        )
    )


@routes.route(
    "POST",
    "/complaints/{id}/response",
    "Answer a WeChat Pay complaint through its API, optionally completing it (audited)",
    body=ComplaintAnswerIn,
    response=CaseOut,
    permission=Permission.APPEALS_HANDLE,
)
async def answer_complaint(request: web.Request, body: ComplaintAnswerIn) -> web.Response:
    """Respond (and complete) at WeChat Pay, then record it."""
    appeal_id = case_id(request)
    row = await complaints.answer(
        lambda: unit_of_work(request),
        clock(request),
        wechat(request).complaints,
        acting_staff(request),
        appeal_id,
        body.text,
        complete=body.complete,
    )
    return json_response(case_out(row, clock(request).now()))


@routes.route(
    "POST",
    "/complaints/sync",
    "Take in a sub-merchant's WeChat Pay complaints of a day (catches missed notifications)",
    body=ComplaintSyncIn,
    response=ComplaintSyncOut,
    permission=Permission.APPEALS_HANDLE,
)
async def sync_complaints(request: web.Request, body: ComplaintSyncIn) -> web.Response:
    """List the day's complaints at WeChat Pay and queue each."""
    rows = await complaints.sync(
        lambda: unit_of_work(request),
        clock(request),
        wechat(request).complaints,
        acting_staff(request),
        body.date.isoformat(),
        body.sub_mchid,
    )
    now = clock(request).now()
    return json_response(ComplaintSyncOut(items=[case_out(row, now) for row in rows]))
