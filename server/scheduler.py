"""The scheduler of the daily jobs (APScheduler), started with the app when jobs are enabled."""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import time
from collections.abc import AsyncIterator

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from config.settings import Settings
from core.billing import SHANGHAI
from core.clock import Clock
from core.jobs import JobContext, JobRegistry, JobSpec, JobTakenError, Period, Progress
from core.services.daily_jobs import city_jobs
from core.services.jobs import run_job
from core.store.database import Database
from core.store.unit_of_work import UnitOfWork
from server.driver_features import reminder_policy
from server.invoicing import INVOICE_PROVIDERS_KEY
from server.metrics import observe_job_run
from server.resources import CLOCK_KEY, DATABASE_KEY, SETTINGS_KEY
from server.wechat import WECHAT_SERVICES_KEY

log = logging.getLogger(__name__)

JOBS_KEY = web.AppKey("jobs", JobRegistry)
SCHEDULER_KEY = web.AppKey("scheduler", AsyncIOScheduler)


def worker_name() -> str:
    """Who runs a job, as job_runs records it."""
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def registry(settings: Settings) -> JobRegistry:
    """The jobs this deployment runs."""
    return city_jobs(reminder_policy(settings))


def job_context(database: Database, clock: Clock, app: web.Application | None = None) -> JobContext:
    """The ports a job may use: the app's when serving, none of WeChat's from the CLI."""
    services = app.get(WECHAT_SERVICES_KEY) if app is not None else None
    providers = app.get(INVOICE_PROVIDERS_KEY) if app is not None else None
    return JobContext(
        uows=lambda: UnitOfWork(database.sessions),
        clock=clock,
        bills=services.bills if services is not None else None,
        invoice_providers=providers,
        profit_sharing=services.profit_sharing if services is not None else None,
    )


def with_progress(ctx: JobContext, progress: Progress) -> JobContext:
    """The same context reporting progress somewhere."""
    return dataclasses.replace(ctx, progress=progress)


def trigger(spec: JobSpec) -> CronTrigger:
    """When a job starts, Beijing time: daily, or on the 1st for monthly jobs."""
    day = "1" if spec.period is Period.MONTHLY else "*"
    return CronTrigger(day=day, hour=spec.at.hour, minute=spec.at.minute, timezone=SHANGHAI)


async def _run_due(app: web.Application, spec: JobSpec) -> None:
    ctx = job_context(app[DATABASE_KEY], app[CLOCK_KEY], app)
    period = spec.due_period(ctx.clock.now())
    began = time.perf_counter()
    try:
        run = await run_job(ctx, spec, period, worker=worker_name())
    except JobTakenError:
        log.info("job %s for %s: another worker has it", spec.name, period)
        observe_job_run(spec.name, "taken", time.perf_counter() - began)
        return
    observe_job_run(spec.name, str(run.status), time.perf_counter() - began)
    log.info("job %s for %s: %s %s", spec.name, period, run.status, run.error or "")


async def scheduler_ctx(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context (after invoicing_ctx, whose providers a job uses): the job scheduler."""
    settings = app[SETTINGS_KEY]
    jobs = registry(settings)
    app[JOBS_KEY] = jobs
    if not settings.jobs_enabled:
        yield
        return
    scheduler = AsyncIOScheduler(timezone=SHANGHAI)
    for spec in jobs:
        scheduler.add_job(
            _run_due,
            trigger(spec),
            args=[app, spec],
            id=spec.name,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=3600,
        )
    scheduler.start()
    app[SCHEDULER_KEY] = scheduler
    yield
    scheduler.shutdown(wait=False)
