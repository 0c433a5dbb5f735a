"""What a lot's system asks: a plate's arrears and rights, a session's payments, missed notices."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from core.plates import parse_plate
from core.services import network_notices, network_queries
from network_api.signature import signed_caller
from server.http import ApiRoutes, json_response
from server.resources import clock, unit_of_work

routes = ApiRoutes("network", signed=True)


class NetworkOwedStayOut(BaseModel):
    """One unpaid stay of the plate."""

    stay_ref: str
    place: str
    exited_at: datetime | None
    due_fen: int
    collectable: bool = Field(description="this lot's operator owns it: collect it at the exit")


class NetworkArrearsOut(BaseModel):
    """A plate's city arrears."""

    plate: str
    due_fen: int
    stays: list[NetworkOwedStayOut]


class NetworkRightsOut(BaseModel):
    """What lets the plate through without paying here."""

    plate: str
    has_pass: bool
    pass_valid_until: datetime | None
    auto_deduct: bool = Field(description="WeChat Pay's parking service may deduct for it")


class NetworkPaidOnlineOut(BaseModel):
    """One mini-program payment."""

    out_trade_no: str
    amount_fen: int
    paid_at: datetime | None


class NetworkSessionPaymentsOut(BaseModel):
    """A session's fee and what was paid toward it ("paid elsewhere": open when due is 0)."""

    session_id: str
    stay_ref: str
    fee_fen: int | None
    paid_online_fen: int
    paid_on_site_fen: int
    due_fen: int
    payments: list[NetworkPaidOnlineOut]


class NetworkNoticesQuery(BaseModel):
    """The cursor: notices after this id."""

    after: int = Field(0, ge=0, le=2**53)
    limit: int = Field(100, ge=1, le=500)


class NetworkNoticeOut(BaseModel):
    """One notice as it was (or will be) posted to the lot's webhook."""

    id: int
    event_id: str
    type: str
    body: dict[str, Any]
    created_at: datetime
    delivered_at: datetime | None
    attempts: int


class NetworkNoticesOut(BaseModel):
    """Notices after the cursor; ask again with `after` = the last id."""

    notices: list[NetworkNoticeOut]


@routes.route(
    "GET",
    "/v1/plates/{plate}/arrears",
    "A plate's unpaid stays across the city (flag, or collect this operator's at the exit)",
    response=NetworkArrearsOut,
)
async def show_arrears(request: web.Request, _: None) -> web.Response:
    """Answer the plate's arrears."""
    async with unit_of_work(request) as uow:
        caller = await signed_caller(request, uow)
        plate = parse_plate(request.match_info["plate"]).number
        found = await network_queries.plate_arrears(uow, caller, plate)
        await uow.commit()
    return json_response(NetworkArrearsOut.model_validate(asdict(found)))


@routes.route(
    "GET",
    "/v1/plates/{plate}/rights",
    "Whether a plate holds a pass of this lot or WeChat Pay's parking service",
    response=NetworkRightsOut,
)
async def show_rights(request: web.Request, _: None) -> web.Response:
    """Answer the plate's rights here."""
    async with unit_of_work(request) as uow:
        caller = await signed_caller(request, uow)
        plate = parse_plate(request.match_info["plate"]).number
        rights = await network_queries.plate_rights(uow, clock(request), caller, plate)
        await uow.commit()
    return json_response(
        NetworkRightsOut(
            plate=rights.plate,
            has_pass=rights.pass_valid_until is not None,
            pass_valid_until=rights.pass_valid_until,
            auto_deduct=rights.auto_deduct,
        )
    )


@routes.route(
    "GET",
    "/v1/sessions/{session_id}/payments",
    "What a driver paid in the mini-program for a session (paid elsewhere)",
    response=NetworkSessionPaymentsOut,
)
async def show_session_payments(request: web.Request, _: None) -> web.Response:
    """Answer the session's payments."""
    async with unit_of_work(request) as uow:
        caller = await signed_caller(request, uow)
        paid = await network_queries.session_payments(uow, caller, request.match_info["session_id"])
        await uow.commit()
    return json_response(NetworkSessionPaymentsOut.model_validate(asdict(paid)))


@routes.route(
    "GET",
    "/v1/notices",
    "The platform's notices to this lot after a cursor (for webhooks it missed)",
    query=NetworkNoticesQuery,
    response=NetworkNoticesOut,
)
async def list_notices(request: web.Request, query: NetworkNoticesQuery) -> web.Response:
    """Answer the notices after the cursor."""
    async with unit_of_work(request) as uow:
        caller = await signed_caller(request, uow)
        found = await network_notices.notices_after(uow, caller, query.after, query.limit)
        await uow.commit()
    notices = [
        NetworkNoticeOut(
            id=n.id,
            event_id=n.event_id,
            type=n.kind,
            body=n.body,
            created_at=n.created_at,
            delivered_at=n.delivered_at,
            attempts=n.attempts,
        )
        for n in found
    ]
    return json_response(NetworkNoticesOut(notices=notices))
