"""The composition root: builds the whole application from settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator

from aiohttp import web

import bot.app
import console.app
import device_bridge.app
import miniprogram_api.app
import network_api.app
import open_data_api.app
import ops_api.app
from bot.services import bot_ctx
from config.settings import Settings
from core.billing import DayCalendar
from core.clock import Clock, SystemClock
from core.services.calendar import OverridableCalendar, refresh_calendar
from core.store.database import PoolOptions, open_database
from core.store.unit_of_work import UnitOfWork
from device_bridge.intake import berth_groups_ctx
from device_bridge.lane_publisher import lane_publisher_ctx
from device_bridge.mqtt import mqtt_ctx
from device_bridge.signs import signs_ctx
from ops_api.auth import authorize
from server.availability import availability_ctx
from server.driver_features import driver_features_ctx
from server.http import AUTHORIZER_KEY, error_middleware
from server.invoicing import invoicing_ctx
from server.log_masking import install_log_masking
from server.metrics import metrics_middleware
from server.metrics_endpoint import metrics
from server.network import network_ctx
from server.object_store import object_store_ctx
from server.openapi import ROUTES_KEY, build_openapi
from server.rate_limits import rate_limits_ctx
from server.readiness import readiness_ctx, readyz
from server.request_ids import install_request_id_records, request_id_middleware
from server.resources import CALENDAR_KEY, CLOCK_KEY, DATABASE_KEY, SETTINGS_KEY
from server.scheduler import scheduler_ctx
from server.support_events import support_ctx
from server.wechat import wechat_services

log = logging.getLogger(__name__)

OPENAPI_KEY = web.AppKey("openapi", dict)


def create_app(
    settings: Settings, *, clock: Clock | None = None, calendar: DayCalendar | None = None
) -> web.Application:
    """The root app with sub-apps /mp/, /wechat/, /devices/, /ops/, /open/, /network/, /console/."""
    install_log_masking()  # whoever serves the app, its log lines (access log too) are masked
    install_request_id_records()
    # The request id outermost, so that every answer (errors too) and log line carries it.
    app = web.Application(middlewares=[request_id_middleware, metrics_middleware, error_middleware])
    app[SETTINGS_KEY] = settings
    app[CLOCK_KEY] = clock or SystemClock()
    app[CALENDAR_KEY] = calendar or OverridableCalendar()
    app[AUTHORIZER_KEY] = authorize
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_calendar_refresh)
    app.cleanup_ctx.append(availability_ctx)
    # The publisher first: the MQTT consumer hands it the commands of cameras' MQTT reads.
    app.cleanup_ctx.append(lane_publisher_ctx)
    # Before MQTT, so the consumer's single events are grouped too; it stops first, and the
    # collector then applies what still waits before the database closes.
    app.cleanup_ctx.append(berth_groups_ctx)
    app.cleanup_ctx.append(mqtt_ctx)
    app.cleanup_ctx.append(signs_ctx)  # after availability_ctx: the live store feeds it
    app.cleanup_ctx.append(wechat_services)
    app.cleanup_ctx.append(invoicing_ctx)  # after wechat_services: fapiao uses its client
    app.cleanup_ctx.append(scheduler_ctx)  # after invoicing_ctx: a job retries invoices
    app.cleanup_ctx.append(driver_features_ctx)
    app.cleanup_ctx.append(rate_limits_ctx)
    app.cleanup_ctx.append(object_store_ctx)
    app.cleanup_ctx.append(bot_ctx)  # after the driver ports and the sandbox it uses
    app.cleanup_ctx.append(support_ctx)  # after the bot, whose WeChat client it sends with
    app.cleanup_ctx.append(network_ctx)
    app.cleanup_ctx.append(readiness_ctx)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi)
    mounts = {
        "/mp/": miniprogram_api.app.create_app(settings),
        "/wechat/": bot.app.create_app(settings),
        "/devices/": device_bridge.app.create_app(settings),
        "/ops/": ops_api.app.create_app(settings),
        "/open/": open_data_api.app.create_app(settings),
        "/network/": network_api.app.create_app(settings),
        "/console/": console.app.create_app(settings),
    }
    for prefix, sub in mounts.items():
        app.add_subapp(prefix, sub)
    app[OPENAPI_KEY] = build_openapi(
        [(prefix, sub[ROUTES_KEY]) for prefix, sub in mounts.items() if ROUTES_KEY in sub]
    )
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS_KEY]
    pool = PoolOptions(
        settings.db_pool_size,
        settings.db_max_overflow,
        settings.db_pre_ping,
        settings.db_pool_recycle_seconds,
        settings.db_pool_timeout_seconds,
    )
    database = open_database(settings.database_url, echo=settings.sql_echo, pool=pool)
    app[DATABASE_KEY] = database
    yield
    await database.dispose()


async def _calendar_refresh(app: web.Application) -> AsyncIterator[None]:
    calendar = app[CALENDAR_KEY]
    if not isinstance(calendar, OverridableCalendar):
        yield
        return
    sessions = app[DATABASE_KEY].sessions
    async with UnitOfWork(sessions) as uow:
        await refresh_calendar(uow, calendar)
    task = asyncio.create_task(_refresh_forever(app, calendar))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _refresh_forever(app: web.Application, calendar: OverridableCalendar) -> None:
    """Pick up overrides other workers wrote; a failed refresh keeps the last table."""
    interval = app[SETTINGS_KEY].calendar_refresh_seconds
    while True:
        await asyncio.sleep(interval)
        try:
            async with UnitOfWork(app[DATABASE_KEY].sessions) as uow:
                await refresh_calendar(uow, calendar)
        except Exception:
            log.exception("holiday calendar refresh failed; keeping the previous overrides")


async def healthz(request: web.Request) -> web.Response:
    """Alive: the worker answers and so does its database (/readyz checks everything)."""
    try:
        await request.app[DATABASE_KEY].ping()
    except Exception as exc:  # any driver error means "down"; the reason goes to the log
        log.warning("health check failed: %s", exc)
        return web.json_response({"status": "down", "database": "unreachable"}, status=503)
    # The worker's pid tells a load balancer's log which of `parking serve --workers` answered.
    return web.json_response({"status": "ok", "database": "ok", "worker": os.getpid()})


async def openapi(request: web.Request) -> web.Response:
    """Serve the OpenAPI document."""
    return web.json_response(request.app[OPENAPI_KEY])
