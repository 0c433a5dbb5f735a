"""The lane agent's aiohttp app: cameras post reads here; it talks to the centre."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from config.settings import Settings
from core.billing import ChineseDayCalendar, DayCalendar
from core.clock import Clock, SystemClock
from device_bridge.agent.agent import LaneAgent
from device_bridge.agent.centre import CentreAccount, CentreClient
from device_bridge.agent.journal import Journal
from server.http import error_middleware, read_json

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """One agent: the lot it serves, where the centre is, where its journal lives."""

    lot: str
    centre_url: str
    journal_path: Path
    account: CentreAccount | None = None
    timeout_seconds: float = 2.0  # a lane must not wait longer for a centre that is gone
    retry_seconds: float = 2.0  # how often a backlog is offered to the centre again
    snapshot_seconds: float = 300.0
    keep_days: int = 7  # delivered reads kept on disk at least this long


AGENT_KEY = web.AppKey("lane_agent", LaneAgent)
CONFIG_KEY = web.AppKey("lane_agent_config", AgentConfig)


def create_agent_app(
    config: AgentConfig, *, clock: Clock | None = None, calendar: DayCalendar | None = None
) -> web.Application:
    """Build the agent's app; the journal, HTTP client and loops live in its cleanup_ctx."""
    app = web.Application(middlewares=[error_middleware])
    app[CONFIG_KEY] = config
    app.cleanup_ctx.append(_agent_ctx(clock or SystemClock(), calendar or ChineseDayCalendar()))
    app.router.add_post("/devices/lanes/reads", receive_read)
    app.router.add_get("/healthz", healthz)
    return app


def _agent_ctx(
    clock: Clock, calendar: DayCalendar
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        config = app[CONFIG_KEY]
        journal = Journal(config.journal_path)
        async with aiohttp.ClientSession() as session:
            centre = CentreClient(
                session, config.centre_url, config.account, config.timeout_seconds
            )
            agent = LaneAgent(config.lot, journal, centre, clock, calendar)
            app[AGENT_KEY] = agent
            task = asyncio.create_task(_keep_in_sync(agent, config))
            yield
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        journal.close()

    return ctx


async def _keep_in_sync(agent: LaneAgent, config: AgentConfig) -> None:
    """Refresh the snapshot, offer the backlog to the centre, prune old delivered reads."""
    since_snapshot = config.snapshot_seconds
    while True:
        if since_snapshot >= config.snapshot_seconds:
            since_snapshot = 0.0 if await agent.refresh() else config.snapshot_seconds / 2
        try:
            sent = await agent.resend()
            if sent:
                log.info("lot %s: %d journalled reads delivered to the centre", agent.lot, sent)
            agent.prune(config.keep_days)
        except Exception:  # the loop must outlive any one failure; the journal keeps the reads
            log.exception("lane agent of %s: sync round failed", agent.lot)
        await asyncio.sleep(config.retry_seconds)
        since_snapshot += config.retry_seconds


async def receive_read(request: web.Request) -> web.Response:
    """A camera's read (own lane JSON): answered by the centre, or by the agent when offline."""
    answer = await request.app[AGENT_KEY].handle(await read_json(request))
    return web.json_response(answer)


async def healthz(request: web.Request) -> web.Response:
    """Mode (online/offline), backlog and the snapshot's age."""
    return web.json_response(request.app[AGENT_KEY].status())


def run_agent_command(settings: Settings, args: argparse.Namespace) -> int:
    """`parking lane-agent`: serve one lot's agent (the account's password from the environment)."""
    account = None
    if args.username:
        password = os.environ.get("PARKING_AGENT_PASSWORD", "")
        if not password:
            print("parking lane-agent: set PARKING_AGENT_PASSWORD for --username", file=sys.stderr)
            return 2
        account = CentreAccount(args.username, password)
    journal = Path(args.journal or f"var/lane-agent-{args.lot}.db")
    journal.parent.mkdir(parents=True, exist_ok=True)
    config = AgentConfig(args.lot, args.centre, journal, account)
    web.run_app(create_agent_app(config), host=settings.host, port=args.port)
    return 0
