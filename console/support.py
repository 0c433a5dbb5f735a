"""Support agent pages: the live queue, a conversation, the driver panel, appeals and actions."""

from __future__ import annotations

from aiohttp import web

from console.forms import form_of, query_of
from console.rendering import render, see_other
from console.session import page, staff_of
from core.appeals import Action
from core.errors import ValidationFailedError
from core.money import format_yuan
from core.services import appeal_decisions, appeals, support, support_panel
from core.services.waivers import waive_fee
from core.staff import Permission
from core.support import CloseCategory, ConversationNotFoundError, MessageKind
from ops_api.appeals import (
    CaseDecisionIn,
    CaseQueueQuery,
    approval_limits,
    case_id,
    case_queue,
    refund_ports,
)
from ops_api.payments import WaiverIn
from ops_api.support import SupportCloseIn, SupportSendIn
from ops_api.support_stream import SupportStreamQuery, stream
from ops_api.support_views import conversation_out, panel_out
from server.input_limits import parse_row_id
from server.resources import clock, read_unit_of_work, unit_of_work
from server.support_keys import SUPPORT_PORTS_KEY

routes = web.RouteTableDef()
CHAT = Permission.CHAT_TAKEOVER
CATEGORIES_ZH = {
    "fee": "收费",
    "payment": "支付",
    "refund": "退款",
    "arrears": "欠费",
    "binding": "绑车",
    "invoice": "发票",
    "device": "设备",
    "complaint": "投诉",
    "other": "其他",
}


def _conversation_id(request: web.Request) -> int:
    found = parse_row_id(request.match_info["id"])
    if found is None:
        raise ConversationNotFoundError(detail=request.match_info["id"])
    return found


@routes.get("/support/queue")
@page(CHAT)
async def queue_page(request: web.Request) -> web.Response:
    """The waiting conversations and the agent's own, refreshed live from the stream."""
    return render(request, "support/queue.html", await _queue_context(request))


@routes.get("/support/queue/list")
@page(CHAT)
async def queue_fragment(request: web.Request) -> web.Response:
    """The queue tables alone, for htmx to swap in when the stream says something changed."""
    return render(request, "support/_queue.html", await _queue_context(request))


async def _queue_context(request: web.Request) -> dict[str, object]:
    staff, now = staff_of(request), clock(request).now()
    async with read_unit_of_work(request) as uow:
        waiting = await support_panel.queue(uow, 100)
        mine = await support_panel.held(uow, staff.username)
    return {
        "waiting": [conversation_out(staff, e.row, now, e) for e in waiting],
        "mine": [conversation_out(staff, e.row, now, e) for e in mine],
    }


@routes.get("/support/stream")
@page(CHAT)
async def live(request: web.Request) -> web.StreamResponse:
    """The agents' event stream of /ops/support/stream, for the cookie session."""
    return await stream(request, query_of(request, SupportStreamQuery))


@routes.post("/support/conversations/{id}/claim")
@page(CHAT)
async def claim(request: web.Request) -> web.Response:
    """Take a waiting conversation (of two agents at once one wins)."""
    handoff_id = _conversation_id(request)
    async with unit_of_work(request) as uow:
        await support.claim(
            uow,
            clock(request),
            request.config_dict[SUPPORT_PORTS_KEY],
            staff_of(request),
            handoff_id,
        )
    return see_other(f"/console/support/conversations/{handoff_id}")


@routes.get("/support/conversations/{id}")
@page(CHAT)
async def conversation_page(request: web.Request) -> web.Response:
    """A conversation with its messages, the reply and close forms, and the driver panel."""
    context = await _conversation_context(request)
    async with read_unit_of_work(request) as uow:
        panel = await support_panel.driver_panel(uow, _conversation_id(request))
    context["panel"] = panel_out(staff_of(request), panel)
    context["categories"] = list(CloseCategory)
    context["categories_zh"] = CATEGORIES_ZH
    return render(request, "support/conversation.html", context)


@routes.get("/support/conversations/{id}/messages")
@page(CHAT)
async def messages_fragment(request: web.Request) -> web.Response:
    """The messages alone, for the live refresh."""
    return render(request, "support/_messages.html", await _conversation_context(request))


async def _conversation_context(request: web.Request) -> dict[str, object]:
    staff = staff_of(request)
    async with read_unit_of_work(request) as uow:
        entry, messages = await support_panel.history(uow, _conversation_id(request))
    return {
        "conversation": conversation_out(staff, entry.row, clock(request).now(), entry),
        "messages": messages,
    }


@routes.post("/support/conversations/{id}/messages")
@page(CHAT)
async def send(request: web.Request) -> web.Response:
    """Reply to the driver (inside WeChat's 48 hours); answers the refreshed messages."""
    body = await form_of(request, SupportSendIn)
    if body.kind is MessageKind.TEXT and not body.text:
        raise ValidationFailedError("请填写回复内容", detail="text message without text")
    outgoing = support.AgentMessage(body.kind, body.text, body.canned, body.title, body.page)
    async with unit_of_work(request) as uow:
        await support.send(
            uow,
            clock(request),
            request.config_dict[SUPPORT_PORTS_KEY],
            staff_of(request),
            _conversation_id(request),
            outgoing,
        )
    return render(request, "support/_messages.html", await _conversation_context(request))


@routes.post("/support/conversations/{id}/close")
@page(CHAT)
async def close(request: web.Request) -> web.Response:
    """Close with a category and resolution; back to the queue."""
    body = await form_of(request, SupportCloseIn)
    async with unit_of_work(request) as uow:
        await support.close(
            uow,
            clock(request),
            request.config_dict[SUPPORT_PORTS_KEY],
            staff_of(request),
            _conversation_id(request),
            body.category,
            body.resolution,
        )
    return see_other("/console/support/queue")


@routes.post("/support/stays/{ref}/waivers")
@page(Permission.PAYMENTS_REFUND, CHAT)
async def waive(request: web.Request) -> web.Response:
    """Waive part of a stay's unpaid fee within the role's direct limit (audited)."""
    body = await form_of(request, WaiverIn)
    staff = staff_of(request)
    approval_limits(request).check_direct(staff.role.value, Action.WAIVE, body.amount_fen)
    async with unit_of_work(request) as uow:
        done = await waive_fee(
            uow, clock(request), staff, request.match_info["ref"], body.amount_fen, body.reason
        )
    return render(request, "_done.html", {"message": f"已减免 ¥{format_yuan(done.waived_fen)}"})


@routes.get("/support/appeals")
@page(Permission.APPEALS_HANDLE, CHAT)
async def appeals_page(request: web.Request) -> web.Response:
    """The appeal and complaint queue, soonest deadline first."""
    rows = await case_queue(request, query_of(request, CaseQueueQuery))
    return render(request, "support/appeals.html", {"cases": rows, "now": clock(request).now()})


@routes.get("/support/appeals/{id}")
@page(Permission.APPEALS_HANDLE, CHAT)
async def appeal_page(request: web.Request) -> web.Response:
    """A case with its stay's evidence and the decision form."""
    async with read_unit_of_work(request) as uow:
        found = await appeals.evidence(uow, clock(request), staff_of(request), case_id(request))
    return render(request, "support/appeal.html", {"evidence": found, "actions": list(Action)})


@routes.post("/support/appeals/{id}/decision")
@page(Permission.APPEALS_HANDLE, CHAT)
async def decide(request: web.Request) -> web.Response:
    """Reject, or waive/refund within the limit; over it the case waits for finance."""
    body = await form_of(request, CaseDecisionIn)
    done = await appeal_decisions.decide(
        lambda: unit_of_work(request),
        clock(request),
        refund_ports(request),
        approval_limits(request),
        staff_of(request),
        case_id(request),
        body.action,
        body.amount_fen,
        body.reason,
    )
    waiting = "，超出权限，已提交财务审批" if done.approval_id else ""
    return render(request, "_done.html", {"message": f"已处理：{done.action.value}{waiting}"})
