"""The agents' live updates: new messages and queue changes as server-sent events."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from core.errors import DomainError
from core.staff import Permission
from miniprogram_api.availability import KEEPALIVE_SECONDS, STREAMS_CLOSING_KEY, TICK_SECONDS
from server.http import ApiRoutes
from server.support_keys import SUPPORT_STREAM_KEY

routes = ApiRoutes("ops")


class StreamUnavailableError(DomainError):
    """The support broker is not running in this process."""

    code = "support_stream_unavailable"
    status = 503
    message_zh = "实时消息暂不可用，请稍后再试"


class SupportStreamQuery(BaseModel):
    """Follow one conversation only; every event when absent."""

    conversation: int | None = Field(None, ge=1, le=2_147_483_647)


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _gone(request: web.Request) -> bool:
    return request.transport is None or request.transport.is_closing()


async def _next(events: AsyncIterator[dict[str, Any] | None]) -> dict[str, Any]:
    while True:
        found = await anext(events)
        if found is not None:
            return found


@routes.route(
    "GET",
    "/support/stream",
    "Server-sent events: `ready`, then queued, claimed, message, transferred, ended, rated",
    query=SupportStreamQuery,
    permission=Permission.CHAT_TAKEOVER,
)
async def stream(request: web.Request, query: SupportStreamQuery) -> web.StreamResponse:
    """Stream the support events of every worker to an agent's console."""
    broker = request.config_dict.get(SUPPORT_STREAM_KEY)
    if broker is None:
        raise StreamUnavailableError(detail="support broker not started")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    events = broker.listen()
    assert isinstance(events, AsyncGenerator)
    await anext(events)  # subscribed before `ready`: nothing falls in between
    pending = asyncio.ensure_future(_next(events))
    try:
        await response.write(_event("ready", {"conversation": query.conversation}))
        closing = request.config_dict.get(STREAMS_CLOSING_KEY) or asyncio.Event()
        quiet = 0.0
        while not closing.is_set() and not _gone(request):
            done, _ = await asyncio.wait({pending}, timeout=TICK_SECONDS)
            if not done:
                quiet += TICK_SECONDS
                if quiet >= KEEPALIVE_SECONDS:
                    await response.write(b": keepalive\n\n")
                    quiet = 0.0
                continue
            quiet = 0.0
            found = pending.result()
            pending = asyncio.ensure_future(_next(events))
            if query.conversation in (None, found.get("conversation")):
                await response.write(_event(str(found.get("type", "event")), found))
    except ConnectionResetError:
        pass  # the console went away
    finally:
        pending.cancel()
        with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
            await pending
        await events.aclose()
    return response
