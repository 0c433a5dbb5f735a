"""Fixtures for the Official Account bot: the app and the WeChat sandbox, and followers who chat."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer, unused_port
from pydantic import SecretStr

from config.settings import Settings
from core.clock import FrozenClock
from core.store.database import Database, open_database
from sandbox import server as sandbox_server
from sandbox.wechat.push import Pusher, event_xml, location_xml, text_xml
from sandbox.wechatpay.keys import MERCHANT_KEY_FILE, SandboxKeys
from server.wechat import NOTIFY_PATH
from tests.wechat_sandbox import APPID, SECRET, SP_MCHID, sandbox_url

OA_APPID = "wx0a1b2c3d4e5f6a70"
OA_SECRET = "test-official-account-secret-001"
OA_TOKEN = "oa-token"
OA_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
_ids = itertools.count(1)


@pytest.fixture
async def oa_sandbox(
    sandbox_keys: tuple[SandboxKeys, Path],
    clock: FrozenClock,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> TestServer:
    """The WeChat stand-in knowing the mini-program and the Official Account."""
    keys, _ = sandbox_keys
    apps = {APPID: SECRET, OA_APPID: OA_SECRET}
    return await aiohttp_server(
        sandbox_server.create_app(keys, sp_mchid=SP_MCHID, apps=apps, clock=clock)
    )


def bot_settings(
    settings: Settings, keys: tuple[SandboxKeys, Path], sandbox: TestServer, port: int, **extra: Any
) -> Settings:
    """Settings of the whole app with the Official Account and payments on the sandbox."""
    key, folder = keys
    return settings.model_copy(
        update={
            "wechat_appid": OA_APPID,
            "wechat_secret": SecretStr(OA_SECRET),
            "wechat_token": OA_TOKEN,
            "wechat_aes_key": SecretStr(OA_AES_KEY),
            "wechat_api_base_url": sandbox_url(sandbox),
            "wechatpay_sp_mchid": SP_MCHID,
            "wechatpay_api_v3_key": SecretStr(key.api_v3_key),
            "wechatpay_private_key_path": str(folder / MERCHANT_KEY_FILE),
            "wechatpay_cert_serial_no": key.merchant_serial_no,
            "wechatpay_base_url": sandbox_url(sandbox),
            "wechatpay_notify_url": f"http://127.0.0.1:{port}{NOTIFY_PATH}",
            "miniprogram_appid": APPID,
            "miniprogram_secret": SecretStr(SECRET),
            "licence_register": "sandbox",
            "sms_provider": "sandbox",
            "max_plates_per_driver": 20,
            "notices_send_seconds": 0,
            "arrears_reminder_seconds": 0,
            **extra,
        }
    )


@pytest.fixture
def make_bot(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    oa_sandbox: TestServer,
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> Callable[..., Awaitable[TestClient[Any, Any]]]:
    """Build the app as production runs it, with WeChat played by the sandbox."""

    async def make(**extra: Any) -> TestClient[Any, Any]:
        from server.app import create_app

        port = unused_port()
        configured = bot_settings(settings, sandbox_keys, oa_sandbox, port, **extra)
        return await aiohttp_client(
            create_app(configured, clock=clock), server_kwargs={"port": port}
        )

    return make


@pytest.fixture
async def bot(make_bot: Callable[..., Awaitable[TestClient[Any, Any]]]) -> TestClient[Any, Any]:
    """The app with the bot (safe mode, the sandbox's user-info API)."""
    return await make_bot()


@dataclass
class Follower:
    """A WeChat user of the Official Account who talks to the bot through the webhook."""

    client: TestClient[Any, Any]
    sandbox: TestServer
    clock: FrozenClock
    openid: str
    unionid: str
    pusher: Pusher = field(default_factory=lambda: Pusher(OA_TOKEN, OA_APPID, OA_AES_KEY))

    async def post(self, xml: str) -> tuple[int, str]:
        """POST a push as WeChat does; the status and the raw body."""
        query, body = self.pusher.push(xml, int(self.clock.now().timestamp()))
        response = await self.client.post("/wechat/", params=query, data=body)
        return response.status, await response.text()

    async def reply_to(self, xml: str) -> str | None:
        """The text the bot answers (None when it answers 'success')."""
        status, body = await self.post(xml)
        assert status == 200, body
        if body == "success":
            return None
        reply = self.pusher.open(body)
        assert reply.target == self.openid
        assert len(reply.content.encode()) <= 2048
        return str(reply.content)

    async def say(self, text: str) -> str:
        """Send a text and return the bot's answer."""
        answer = await self.reply_to(text_xml(self.openid, text, self._now(), next(_ids)))
        assert answer is not None
        return answer

    async def send_location(self, lat: float, lng: float, label: str) -> str:
        """Send a location message."""
        xml = location_xml(self.openid, lat, lng, label, self._now(), next(_ids))
        answer = await self.reply_to(xml)
        assert answer is not None
        return answer

    async def event(self, event: str, **fields: str | float) -> str | None:
        """Push an event."""
        return await self.reply_to(event_xml(self.openid, event, self._now(), **fields))

    def _now(self) -> int:
        return int(self.clock.now().timestamp())


async def follower(
    client: TestClient[Any, Any], sandbox: TestServer, clock: FrozenClock, person: str
) -> Follower:
    """A sandbox person who follows the Official Account."""
    async with client.session.post(
        f"{sandbox_url(sandbox)}/sandbox/wechat/follow", json={"appid": OA_APPID, "person": person}
    ) as response:
        found = await response.json()
    return Follower(client, sandbox, clock, found["openid"], found["unionid"])


async def mini_program_login(
    client: TestClient[Any, Any], sandbox: TestServer, person: str
) -> dict[str, str]:
    """The same person signs in to the mini-program; their auth headers."""
    async with client.session.post(
        f"{sandbox_url(sandbox)}/sandbox/wechat/login", json={"appid": APPID, "person": person}
    ) as response:
        issued = await response.json()
    login = await client.post("/mp/login", json={"code": issued["code"]})
    assert login.status == 200, await login.text()
    return {"Authorization": f"Bearer {(await login.json())['token']}"}


async def sandbox_messages(
    client: TestClient[Any, Any], sandbox: TestServer, openid: str
) -> list[Any]:
    """Customer-service and subscribe messages the sandbox received for an openid."""
    async with client.session.get(
        f"{sandbox_url(sandbox)}/sandbox/wechat/messages", params={"openid": openid}
    ) as response:
        found: list[Any] = await response.json()
    return found


def database_of(client: TestClient[Any, Any]) -> Database:
    """The app's database (tests read what the bot recorded)."""
    from server.resources import DATABASE_KEY

    app = client.app
    assert app is not None
    database: Database = app[DATABASE_KEY]
    return database


def sensor(event_id: str, berth: str, state: str, plate: str, at: str) -> dict[str, str]:
    """A berth sensor event of 2026-11-25 at a local time."""
    return {
        "event_id": event_id,
        "device": f"MAG-{berth}",
        "berth": berth,
        "state": state,
        "plate": plate,
        "device_time": f"2026-11-25T{at}:00+08:00",
    }


HOUR = timedelta(hours=1)
__all__ = ["HOUR", "Follower", "database_of", "follower", "open_database"]
