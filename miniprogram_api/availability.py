"""Live availability for drivers and guidance screens: a snapshot and a server-sent stream."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field

from core.availability import BerthLive, Counts, summarise
from core.errors import DomainError
from core.services.nearby import NearbyPlace, lot_counts
from server.availability import AVAILABILITY_KEY
from server.http import ApiRoutes, json_response
from server.resources import clock, read_unit_of_work

routes = ApiRoutes("miniprogram")

KEEPALIVE_SECONDS = 15.0
TICK_SECONDS = 1.0
STREAMS_CLOSING_KEY = web.AppKey("streams_closing", asyncio.Event)


def install_stream_shutdown(app: web.Application) -> None:
    """Let the server's shutdown end open streams instead of waiting out its timeout."""
    app[STREAMS_CLOSING_KEY] = asyncio.Event()

    async def close_streams(app: web.Application) -> None:
        app[STREAMS_CLOSING_KEY].set()

    app.on_shutdown.append(close_streams)


class AvailabilityUnavailableError(DomainError):
    """The live counts are not running in this process."""

    code = "availability_unavailable"
    status = 503
    message_zh = "实时泊位信息暂不可用，请稍后再试"


class CountOut(BaseModel):
    """Berths and free berths of a zone or a street."""

    name: str = Field(description="zone code, or zone/street")
    total: int
    free: int


class BerthOut(BaseModel):
    """One berth: free unless occupied or closed."""

    code: str
    zone: str
    street: str
    free: bool
    occupied: bool
    closed: bool


class LotCountOut(BaseModel):
    """A gated lot's free spaces; a networked lot's count is its own push, with its age."""

    code: str
    name: str
    total: int
    free: int
    networked: bool
    counted_at: datetime | None
    count_age_s: int | None


class AvailabilityOut(BaseModel):
    """Free counts per zone and street, and each berth when asked; lots without a zone named."""

    zones: list[CountOut]
    streets: list[CountOut]
    berths: list[BerthOut]
    lots: list[LotCountOut] = []


class AvailabilityQuery(BaseModel):
    """Which zone, and whether to list each berth."""

    zone: str | None = Field(None, max_length=32)
    berths: bool = False


def _counts(table: dict[str, Counts]) -> list[CountOut]:
    return [CountOut(name=name, total=c.total, free=c.free) for name, c in table.items()]


def berth_out(berth: BerthLive) -> BerthOut:
    """The wire form of a berth."""
    return BerthOut(
        code=berth.code,
        zone=berth.zone,
        street=berth.street,
        free=berth.free,
        occupied=berth.occupied,
        closed=berth.closed,
    )


async def snapshot(request: web.Request, zone: str | None, with_berths: bool) -> AvailabilityOut:
    """The current counts from the live store."""
    store = request.config_dict.get(AVAILABILITY_KEY)
    if store is None:
        raise AvailabilityUnavailableError(detail="availability store not started")
    summary = summarise(await store.berths(zone or None), with_berths=with_berths)
    return AvailabilityOut(
        zones=_counts(summary.zones),
        streets=_counts(summary.streets),
        berths=[berth_out(b) for b in summary.berths],
    )


@routes.route(
    "GET",
    "/availability",
    "Live free berths per zone and street (and per berth with berths=true)",
    query=AvailabilityQuery,
    response=AvailabilityOut,
)
async def show_availability(request: web.Request, query: AvailabilityQuery) -> web.Response:
    """Answer the current counts."""
    answer = await snapshot(request, query.zone, query.berths)
    if query.zone is None:
        async with read_unit_of_work(request) as uow:
            counted = await lot_counts(uow, clock(request))
        answer.lots = [_lot_out(place) for place in counted]
    return json_response(answer)


def _lot_out(place: NearbyPlace) -> LotCountOut:
    note = place.network
    return LotCountOut(
        code=place.spot.code,
        name=place.spot.name,
        total=place.spot.total,
        free=place.free,
        networked=note is not None,
        counted_at=note.counted_at if note else None,
        count_age_s=note.count_age_s if note else None,
    )


class StreamQuery(BaseModel):
    """Which zone to follow; all zones when absent."""

    zone: str | None = Field(None, max_length=32)


@routes.route(
    "GET",
    "/availability/stream",
    "Server-sent events: `snapshot` first, then a `berth` event per change",
    query=StreamQuery,
)
async def stream_availability(request: web.Request, query: StreamQuery) -> web.StreamResponse:
    """Stream berth changes to a guidance screen or the mini-program."""
    store = request.config_dict.get(AVAILABILITY_KEY)
    if store is None:
        raise AvailabilityUnavailableError(detail="availability store not started")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    changes = store.changes()
    assert isinstance(changes, AsyncGenerator)
    await anext(changes)  # subscribed: no change can fall between snapshot and stream
    pending = asyncio.ensure_future(_next_change(changes))
    try:
        first = await snapshot(request, query.zone, with_berths=True)
        await response.write(_event("snapshot", first.model_dump_json()))
        closing = request.app.get(STREAMS_CLOSING_KEY) or asyncio.Event()
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
            berth = pending.result()
            pending = asyncio.ensure_future(_next_change(changes))
            if not query.zone or berth.zone == query.zone:
                await response.write(_event("berth", berth_out(berth).model_dump_json()))
    except ConnectionResetError:
        pass  # the screen went away
    finally:
        # Stop the pending read before closing the subscription it is reading from.
        pending.cancel()
        with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
            await pending
        await changes.aclose()
    return response


def _gone(request: web.Request) -> bool:
    """Whether the client hung up (aiohttp does not cancel the handler for it)."""
    return request.transport is None or request.transport.is_closing()


async def _next_change(changes: AsyncIterator[BerthLive | None]) -> BerthLive:
    while True:
        berth = await anext(changes)
        if berth is not None:
            return berth


def _event(name: str, data: str) -> bytes:
    return f"event: {name}\ndata: {data}\n\n".encode()
