"""Resources of the driver features: place index, price briefs, licence and SMS ports, notices."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from adapters.geo_redis import RedisPlaceIndex
from adapters.no_provider import NoLicenceRegister, NoSms
from config.settings import Settings
from core.arrears import ReminderPolicy
from core.notices import APPEAL_OUTCOME, ARREARS_REMINDER, STAY_FEE, STAY_OPENED, SmsSender
from core.services.arrears import queue_reminders
from core.services.nearby import (
    Occupancy,
    PlaceCatalogue,
    PlaceIndex,
    SqlPlaceIndex,
    TariffBriefs,
)
from core.services.notices import NoticeSetup, deliver_notices
from core.store.unit_of_work import UnitOfWork
from core.vehicles import LicenceVerifier
from sandbox.driver_services import SandboxRegister, SandboxSms
from server.resources import CLOCK_KEY, DATABASE_KEY, SETTINGS_KEY
from server.wechat import (
    SANDBOX_APPEAL_TEMPLATE,
    SANDBOX_APPID,
    SANDBOX_ARREARS_TEMPLATE,
    SANDBOX_ENTRY_TEMPLATE,
    SANDBOX_FEE_TEMPLATE,
    WECHAT_SERVICES_KEY,
)

log = logging.getLogger(__name__)

SANDBOX_ENTRY_SMS = "SMS_ENTRY_0001"
SANDBOX_FEE_SMS = "SMS_FEE_0001"
SANDBOX_ARREARS_SMS = "SMS_ARREARS_0001"


@dataclass(frozen=True, slots=True)
class DriverPorts:
    """What the driver routes need beyond the database."""

    places: PlaceIndex
    catalogue: PlaceCatalogue
    briefs: TariffBriefs
    licences: LicenceVerifier
    sms: SmsSender
    notices: NoticeSetup


DRIVER_PORTS_KEY = web.AppKey("driver_ports", DriverPorts)


def notice_setup(settings: Settings) -> NoticeSetup:
    """Templates of entry notices: configured ones, or the sandbox's when it is on."""
    sandbox = settings.wechat_sandbox
    chosen = {
        STAY_OPENED: settings.entry_template_id or (SANDBOX_ENTRY_TEMPLATE if sandbox else None),
        STAY_FEE: settings.fee_template_id or (SANDBOX_FEE_TEMPLATE if sandbox else None),
        ARREARS_REMINDER: settings.arrears_template_id
        or (SANDBOX_ARREARS_TEMPLATE if sandbox else None),
        APPEAL_OUTCOME: settings.appeal_template_id
        or (SANDBOX_APPEAL_TEMPLATE if sandbox else None),
    }
    return NoticeSetup(
        appid=settings.miniprogram_appid or SANDBOX_APPID,
        templates={kind: template for kind, template in chosen.items() if template},
        sms_templates=_sms_templates(settings),
    )


def licence_register(settings: Settings) -> LicenceVerifier:
    """The demo register where chosen (or in the sandbox); otherwise none, and checks say so."""
    if _stand_in(settings.licence_register, settings):
        return SandboxRegister()
    log.warning("no vehicle register: licence checks answer 503; paying a stay still verifies")
    return NoLicenceRegister()


def sms_sender(settings: Settings) -> SmsSender:
    """The SMS stand-in where chosen (or in the sandbox); otherwise none, and none is tried."""
    if _stand_in(settings.sms_provider, settings):
        return SandboxSms()
    log.warning("no SMS provider: notices fall back to nothing when no subscription is left")
    return NoSms()


def _sms_templates(settings: Settings) -> dict[str, str]:
    if not _stand_in(settings.sms_provider, settings):
        return {}  # nothing to send them with
    return {
        STAY_OPENED: settings.entry_sms_template or SANDBOX_ENTRY_SMS,
        STAY_FEE: settings.fee_sms_template or SANDBOX_FEE_SMS,
        ARREARS_REMINDER: settings.arrears_sms_template or SANDBOX_ARREARS_SMS,
    }


def _stand_in(choice: str | None, settings: Settings) -> bool:
    """Whether a provider setting picks the local stand-in; unset follows the sandbox switch."""
    return (choice or ("sandbox" if settings.wechat_sandbox else "none")) == "sandbox"


async def driver_features_ctx(app: web.Application) -> AsyncIterator[None]:
    """Build the ports, fill the Redis place index, and send queued notices in the background."""
    settings = app[SETTINGS_KEY]
    redis_index: RedisPlaceIndex | None = None
    refresh = timedelta(seconds=settings.nearby_refresh_seconds)
    occupancy = Occupancy(settings.nearby_counts_seconds)
    catalogue = PlaceCatalogue(app[CLOCK_KEY], refresh, occupancy)
    places: PlaceIndex = SqlPlaceIndex(catalogue)
    if settings.redis_url:
        client = aioredis.from_url(settings.redis_url)
        redis_index = RedisPlaceIndex(client, settings.nearby_redis_key)
        places = redis_index
    app[DRIVER_PORTS_KEY] = DriverPorts(
        places,
        catalogue,
        TariffBriefs(refresh),
        licence_register(settings),
        sms_sender(settings),
        notice_setup(settings),
    )
    tasks = []
    if redis_index is not None:
        await reload_places(app, redis_index)
        every = settings.nearby_refresh_seconds
        tasks.append(run_forever(every, lambda: reload_places(app, redis_index), "place index"))
    if settings.notices_send_seconds > 0:
        every = settings.notices_send_seconds
        tasks.append(run_forever(every, lambda: send_notices(app), "notice sending"))
    if settings.arrears_reminder_seconds > 0 and settings.arrears_reminder_most > 0:
        every = settings.arrears_reminder_seconds
        tasks.append(run_forever(every, lambda: remind_arrears(app), "arrears reminders"))
    try:
        async with in_background(tasks):
            yield
    finally:
        if redis_index is not None:
            await redis_index.close()


async def reload_places(app: web.Application, index: RedisPlaceIndex) -> int:
    """Put every lot and street of the database into the Redis GEO index."""
    async with UnitOfWork(app[DATABASE_KEY].sessions) as uow:
        spots = await uow.places.lots() + await uow.places.streets()
    return await index.load(spots)


async def send_notices(app: web.Application) -> int:
    """Deliver the queued notices once; returns how many were handled."""
    ports = app[DRIVER_PORTS_KEY]
    services = app.get(WECHAT_SERVICES_KEY)
    notifier = services.miniprogram if services is not None else None
    database = app[DATABASE_KEY]
    done = await deliver_notices(
        lambda: UnitOfWork(database.sessions), app[CLOCK_KEY], notifier, ports.sms, ports.notices
    )
    return len(done)


def reminder_policy(settings: Settings) -> ReminderPolicy:
    """The arrears reminder schedule from settings."""
    return ReminderPolicy(
        after=timedelta(days=settings.arrears_reminder_after_days),
        every=timedelta(days=settings.arrears_reminder_every_days),
        most=settings.arrears_reminder_most,
    )


async def remind_arrears(app: web.Application) -> int:
    """Queue the arrears reminders now due; the notice sender delivers them."""
    async with UnitOfWork(app[DATABASE_KEY].sessions) as uow:
        return await queue_reminders(uow, app[CLOCK_KEY], reminder_policy(app[SETTINGS_KEY]))


@contextlib.asynccontextmanager
async def in_background(steps: list[Coroutine[Any, Any, None]]) -> AsyncIterator[None]:
    """Run coroutines as tasks while the block runs; cancel them when it ends."""
    running = [asyncio.create_task(step) for step in steps]
    try:
        yield
    finally:
        for task in running:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def run_forever(every: float, step: Callable[[], Awaitable[object]], what: str) -> None:
    """Run a step every `every` seconds until cancelled; a failed round is logged."""
    while True:
        await asyncio.sleep(every)
        try:
            await step()
        except Exception:  # one failed round (database or Redis down) must not end the loop
            log.exception("%s failed; trying again in %s s", what, every)
