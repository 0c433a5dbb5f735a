"""The scheduler starts with the app only when jobs are enabled, with every registered job."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from config.settings import Settings
from core.billing import SHANGHAI
from core.clock import FrozenClock
from server.app import create_app
from server.scheduler import JOBS_KEY, SCHEDULER_KEY


async def test_jobs_are_scheduled_at_their_beijing_times_when_enabled(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any]
) -> None:
    enabled = settings.model_copy(update={"jobs_enabled": True})
    client = await aiohttp_client(create_app(enabled, clock=clock))
    app = client.server.app
    scheduler = app[SCHEDULER_KEY]
    names = {spec.name for spec in app[JOBS_KEY]}
    assert {job.id for job in scheduler.get_jobs()} == names
    rollups = scheduler.get_job("rollups").next_run_time.astimezone(SHANGHAI)
    assert (rollups.hour, rollups.minute) == (1, 0)
    monthly = scheduler.get_job("deferred-revenue").next_run_time.astimezone(SHANGHAI)
    assert (monthly.day, monthly.hour, monthly.minute) == (1, 1, 30)
    assert monthly > datetime.now(SHANGHAI)


async def test_no_scheduler_runs_by_default(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any]
) -> None:
    client = await aiohttp_client(create_app(settings, clock=clock))
    assert SCHEDULER_KEY not in client.server.app
    assert {spec.name for spec in client.server.app[JOBS_KEY]} >= {"rollups", "reconciliation"}
