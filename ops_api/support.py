"""Support agents' routes: the queue, claim, transfer, history, send, close, hand back, panel."""

from __future__ import annotations

from datetime import date

from aiohttp import web
from pydantic import BaseModel, Field

from core.errors import ValidationFailedError
from core.services import support, support_panel
from core.staff import Permission
from core.support import CANNED, CloseCategory, ConversationNotFoundError, MessageKind, SupportPorts
from ops_api.auth import acting_staff
from ops_api.support_views import (
    ChatMessageOut,
    DriverPanelOut,
    SupportConversationOut,
    SupportConversationsOut,
    SupportHistoryOut,
    SupportMetricsOut,
    conversation_out,
    day_out,
    message_out,
    panel_out,
)
from server.http import ApiRoutes, json_response
from server.input_limits import parse_row_id
from server.resources import clock, read_unit_of_work, unit_of_work
from server.support_keys import SUPPORT_PORTS_KEY

routes = ApiRoutes("ops")
CHAT = Permission.CHAT_TAKEOVER


class QueueQuery(BaseModel):
    """How many waiting conversations to list."""

    limit: int = Field(100, ge=1, le=500)


class SupportTransferIn(BaseModel):
    """The agent to pass the conversation to."""

    to: str = Field(min_length=1, max_length=64, description="the agent's username")


class SupportSendIn(BaseModel):
    """A text, a canned reply by name, or a mini-program page."""

    kind: MessageKind = MessageKind.TEXT
    text: str | None = Field(None, min_length=1, max_length=600)
    canned: str | None = Field(None, max_length=64, description="a name from GET /support/canned")
    title: str | None = Field(None, max_length=64, description="the mini-program card's title")
    page: str | None = Field(
        None, max_length=256, pattern=r"^pages/[\w/\-]+(\?[\w=&%\-.]*)?$", description="its path"
    )


class SupportCloseIn(BaseModel):
    """What the conversation was about and how it was resolved."""

    category: CloseCategory
    resolution: str = Field(min_length=2, max_length=500)


class MetricsQuery(BaseModel):
    """The (Shanghai) day."""

    day: date


class SupportCannedOut(BaseModel):
    """The canned replies by name."""

    replies: dict[str, str]


def _ports(request: web.Request) -> SupportPorts:
    return request.config_dict[SUPPORT_PORTS_KEY]


def _id(request: web.Request) -> int:
    found = parse_row_id(request.match_info["conversation_id"])
    if found is None:
        raise ConversationNotFoundError(detail=request.match_info["conversation_id"])
    return found


async def _answer(request: web.Request, handoff_id: int) -> web.Response:
    async with read_unit_of_work(request) as uow:
        entry, _ = await support_panel.history(uow, handoff_id)
    staff = acting_staff(request)
    return json_response(conversation_out(staff, entry.row, clock(request).now(), entry))


@routes.route(
    "GET",
    "/support/queue",
    "Waiting conversations, oldest first, with waiting time, plates and last messages",
    query=QueueQuery,
    response=SupportConversationsOut,
    permission=CHAT,
)
async def show_queue(request: web.Request, query: QueueQuery) -> web.Response:
    """List the queue."""
    async with read_unit_of_work(request) as uow:
        entries = await support_panel.queue(uow, query.limit)
    staff, now = acting_staff(request), clock(request).now()
    return json_response(
        SupportConversationsOut(items=[conversation_out(staff, e.row, now, e) for e in entries])
    )


@routes.route(
    "GET",
    "/support/mine",
    "The conversations the calling agent holds",
    response=SupportConversationsOut,
    permission=CHAT,
)
async def show_mine(request: web.Request, _: None) -> web.Response:
    """List the agent's own conversations."""
    staff = acting_staff(request)
    async with read_unit_of_work(request) as uow:
        entries = await support_panel.held(uow, staff.username)
    now = clock(request).now()
    return json_response(
        SupportConversationsOut(items=[conversation_out(staff, e.row, now, e) for e in entries])
    )


@routes.route(
    "GET",
    "/support/conversations/{conversation_id}",
    "A conversation and its whole history",
    response=SupportHistoryOut,
    permission=CHAT,
)
async def show_history(request: web.Request, _: None) -> web.Response:
    """Show a conversation's messages."""
    async with read_unit_of_work(request) as uow:
        entry, messages = await support_panel.history(uow, _id(request))
    staff = acting_staff(request)
    return json_response(
        SupportHistoryOut(
            conversation=conversation_out(staff, entry.row, clock(request).now(), entry),
            messages=[message_out(m) for m in messages],
        )
    )


@routes.route(
    "POST",
    "/support/conversations/{conversation_id}/claim",
    "Take a waiting conversation (409 already_claimed when another agent was first)",
    response=SupportConversationOut,
    permission=CHAT,
)
async def claim(request: web.Request, _: None) -> web.Response:
    """Claim a conversation."""
    handoff_id = _id(request)
    async with unit_of_work(request) as uow:
        await support.claim(uow, clock(request), _ports(request), acting_staff(request), handoff_id)
    return await _answer(request, handoff_id)


@routes.route(
    "POST",
    "/support/conversations/{conversation_id}/transfer",
    "Pass a held conversation to another agent",
    body=SupportTransferIn,
    response=SupportConversationOut,
    permission=CHAT,
)
async def transfer(request: web.Request, body: SupportTransferIn) -> web.Response:
    """Transfer a conversation."""
    handoff_id = _id(request)
    async with unit_of_work(request) as uow:
        await support.transfer(
            uow, clock(request), _ports(request), acting_staff(request), handoff_id, body.to
        )
    return await _answer(request, handoff_id)


@routes.route(
    "POST",
    "/support/conversations/{conversation_id}/messages",
    "Reply as a customer-service message (409 outside WeChat's 48 hours)",
    body=SupportSendIn,
    response=ChatMessageOut,
    permission=CHAT,
    status=201,
)
async def send(request: web.Request, body: SupportSendIn) -> web.Response:
    """Send the driver a message."""
    outgoing = support.AgentMessage(body.kind, body.text, body.canned, body.title, body.page)
    if body.kind is MessageKind.TEXT and not body.text:
        raise ValidationFailedError("请填写回复内容", detail="text message without text")
    async with unit_of_work(request) as uow:
        message = await support.send(
            uow, clock(request), _ports(request), acting_staff(request), _id(request), outgoing
        )
    return json_response(message_out(message), status=201)


@routes.route(
    "POST",
    "/support/conversations/{conversation_id}/close",
    "Close with a category and a resolution; the bot asks the driver for a 1-5 rating",
    body=SupportCloseIn,
    response=SupportConversationOut,
    permission=CHAT,
)
async def close(request: web.Request, body: SupportCloseIn) -> web.Response:
    """Close a conversation."""
    handoff_id = _id(request)
    async with unit_of_work(request) as uow:
        await support.close(
            uow,
            clock(request),
            _ports(request),
            acting_staff(request),
            handoff_id,
            body.category,
            body.resolution,
        )
    return await _answer(request, handoff_id)


@routes.route(
    "POST",
    "/support/conversations/{conversation_id}/hand-back",
    "Give the conversation back to the bot",
    response=SupportConversationOut,
    permission=CHAT,
)
async def hand_back(request: web.Request, _: None) -> web.Response:
    """Hand a conversation back."""
    handoff_id = _id(request)
    async with unit_of_work(request) as uow:
        await support.hand_back(
            uow, clock(request), _ports(request), acting_staff(request), handoff_id
        )
    return await _answer(request, handoff_id)


@routes.route(
    "GET",
    "/support/conversations/{conversation_id}/driver",
    "The driver panel: plates, stays, payments, refunds, arrears, notices (contacts masked)",
    response=DriverPanelOut,
    permission=CHAT,
)
async def show_driver(request: web.Request, _: None) -> web.Response:
    """Show who the driver is."""
    async with read_unit_of_work(request) as uow:
        panel = await support_panel.driver_panel(uow, _id(request))
    return json_response(panel_out(acting_staff(request), panel))


@routes.route(
    "GET",
    "/support/metrics",
    "Per agent on a day: conversations, waiting, first response, handling time, ratings",
    query=MetricsQuery,
    response=SupportMetricsOut,
    permission=CHAT,
)
async def show_metrics(request: web.Request, query: MetricsQuery) -> web.Response:
    """The day's metrics."""
    async with read_unit_of_work(request) as uow:
        days = await support_panel.metrics(uow, query.day)
    return json_response(
        SupportMetricsOut(day=query.day.isoformat(), agents=[day_out(d) for d in days])
    )


@routes.route(
    "GET", "/support/canned", "Canned replies by name", response=SupportCannedOut, permission=CHAT
)
async def show_canned(request: web.Request, _: None) -> web.Response:
    """List the canned replies."""
    return json_response(SupportCannedOut(replies=CANNED))
