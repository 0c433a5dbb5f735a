"""The bot's per-process parts, built from settings in a cleanup context."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis
from aiohttp import web
from wechatpy.session.redisstorage import RedisStorage

from adapters.official_account import OfficialAccountClient
from bot.gazetteer import Gazetteer, from_spots, load_landmarks
from bot.intents import Recogniser, load_book
from bot.state import ChatStateStore, MemoryStateStore, RedisStateStore
from bot.texts import Writer
from bot.turn import BotSetup
from config.settings import Settings
from core.clock import Clock
from core.store.unit_of_work import UnitOfWork
from server.availability import AVAILABILITY_KEY
from server.driver_features import DRIVER_PORTS_KEY
from server.resources import CLOCK_KEY, SETTINGS_KEY
from server.support_keys import SUPPORT_PORTS_KEY
from server.wechat import (
    SANDBOX_APPID,
    SANDBOX_KEY,
    SANDBOX_OA_AES_KEY,
    SANDBOX_OA_APPID,
    SANDBOX_OA_SECRET,
    SANDBOX_OA_TOKEN,
)

log = logging.getLogger(__name__)
CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
GAZETTEER_SECONDS = 300.0  # lots and zones change rarely; re-read them this often


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """The Official Account's credentials, with the sandbox's when it plays WeChat."""

    appid: str | None
    secret: str | None
    token: str | None
    aes_key: str | None
    miniprogram_appid: str | None


def account_config(settings: Settings) -> AccountConfig:
    """The configured account; in sandbox mode, the sandbox account fills what is unset."""
    secret = settings.wechat_secret.get_secret_value() if settings.wechat_secret else None
    aes = settings.wechat_aes_key.get_secret_value() if settings.wechat_aes_key else None
    found = AccountConfig(
        settings.wechat_appid, secret, settings.wechat_token, aes, settings.miniprogram_appid
    )
    if not settings.wechat_sandbox:
        return found
    return AccountConfig(
        found.appid or SANDBOX_OA_APPID,
        found.secret or SANDBOX_OA_SECRET,
        found.token or SANDBOX_OA_TOKEN,
        found.aes_key or SANDBOX_OA_AES_KEY,
        found.miniprogram_appid or SANDBOX_APPID,
    )


class GazetteerCache:
    """The gazetteer of the database's places and the landmarks file, rebuilt now and then."""

    def __init__(self, recogniser: Recogniser, landmarks_path: Path) -> None:
        self._recogniser = recogniser
        self._landmarks = load_landmarks(landmarks_path)
        self._built: tuple[float, Gazetteer] | None = None
        self._lock = asyncio.Lock()

    async def __call__(self, uow: UnitOfWork) -> Gazetteer:
        """The current gazetteer (read within the caller's unit of work when stale)."""
        if self._built is not None and time.monotonic() - self._built[0] < GAZETTEER_SECONDS:
            return self._built[1]
        async with self._lock:
            if self._built is None or time.monotonic() - self._built[0] >= GAZETTEER_SECONDS:
                spots = await uow.places.lots() + await uow.places.streets()
                zones = await uow.chat.zones()
                gazetteer = from_spots(spots, zones, self._landmarks)
                self._recogniser.add_place_words(gazetteer.names)
                self._built = (time.monotonic(), gazetteer)
            return self._built[1]


@dataclass(slots=True)
class BotServices:
    """What the webhook needs beyond the database."""

    setup: BotSetup
    states: ChatStateStore
    account: AccountConfig
    client: OfficialAccountClient | None
    reply_seconds: float
    background: set[asyncio.Task[Any]] = field(default_factory=set)


BOT_KEY = web.AppKey("bot_services", BotServices)


def _states(settings: Settings, clock: Clock) -> ChatStateStore:
    ttl = timedelta(minutes=settings.bot_state_minutes)
    if settings.redis_url:
        return RedisStateStore(aioredis.from_url(settings.redis_url), ttl)
    return MemoryStateStore(clock, ttl)


def _client(app: web.Application, account: AccountConfig) -> OfficialAccountClient | None:
    settings = app[SETTINGS_KEY]
    if not (account.appid and account.secret):
        return None
    sandbox = app.get(SANDBOX_KEY)
    base = sandbox.base_url if sandbox is not None else settings.wechat_api_base_url
    storage = None
    if settings.redis_url:
        storage = RedisStorage(redis.Redis.from_url(settings.redis_url), prefix="parking:wechat")
    return OfficialAccountClient(
        account.appid, account.secret, base_url=base, token_storage=storage
    )


async def bot_ctx(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: load the bot's data, connect its state store and WeChat client."""
    settings, clock = app[SETTINGS_KEY], app[CLOCK_KEY]
    folder = Path(settings.bot_config_dir) if settings.bot_config_dir else CONFIG_DIR
    recogniser = await asyncio.to_thread(Recogniser, load_book(folder / "bot_intents.toml"))
    account = account_config(settings)
    ports = app[DRIVER_PORTS_KEY]
    setup = BotSetup(
        recogniser=recogniser,
        gazetteer=GazetteerCache(recogniser, folder / "bot_places.toml"),
        places=ports.places,
        catalogue=ports.catalogue,
        briefs=ports.briefs,
        availability=lambda: app.get(AVAILABILITY_KEY),
        writer=Writer(account.miniprogram_appid),
        plate_limit=settings.max_plates_per_driver,
        support=lambda: app.get(SUPPORT_PORTS_KEY),
    )
    services = BotServices(
        setup, _states(settings, clock), account, _client(app, account), settings.bot_reply_seconds
    )
    app[BOT_KEY] = services
    try:
        yield
    finally:
        for task in list(services.background):
            task.cancel()
        await asyncio.gather(*services.background, return_exceptions=True)
        await services.states.close()
