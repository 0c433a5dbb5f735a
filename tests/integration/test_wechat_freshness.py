"""/wechat/ refuses a correctly signed push whose timestamp is outside the window (a replay)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from config.settings import Settings
from core.clock import FrozenClock
from core.wechat_messages import MESSAGE_WINDOW_SECONDS
from server.app import create_app

TOKEN = "freshness-token"
MESSAGE = """<xml><ToUserName><![CDATA[gh_parking]]></ToUserName>
<FromUserName><![CDATA[o-driver-openid]]></FromUserName><CreateTime>{t}</CreateTime>
<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content>
<MsgId>1234567890123457</MsgId></xml>"""


def signed(timestamp: int, nonce: str = "n0nce") -> dict[str, str]:
    parts = "".join(sorted([TOKEN, str(timestamp), nonce]))
    return {
        "signature": hashlib.sha1(parts.encode()).hexdigest(),
        "timestamp": str(timestamp),
        "nonce": nonce,
    }


async def client_of(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any]
) -> TestClient[Any, Any]:
    app = create_app(settings.model_copy(update={"wechat_token": TOKEN}), clock=clock)
    client: TestClient[Any, Any] = await aiohttp_client(app)
    return client


async def test_a_fresh_signed_message_is_answered(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any]
) -> None:
    client = await client_of(settings, clock, aiohttp_client)
    now = int(clock.now().timestamp())
    response = await client.post("/wechat/", params=signed(now), data=MESSAGE.format(t=now))
    assert response.status == 200, await response.text()


@pytest.mark.parametrize("shift", [-(MESSAGE_WINDOW_SECONDS + 60), MESSAGE_WINDOW_SECONDS + 60])
async def test_a_signed_message_outside_the_window_is_refused(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any], shift: int
) -> None:
    client = await client_of(settings, clock, aiohttp_client)
    then = int((clock.now() + timedelta(seconds=shift)).timestamp())
    response = await client.post("/wechat/", params=signed(then), data=MESSAGE.format(t=then))
    assert (response.status, (await response.json())["code"]) == (401, "stale_message")
