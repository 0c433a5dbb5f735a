"""The Official Account webhook: WeChat's signature (wechatpy's published vector) and replies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from config.settings import Settings
from core.clock import FrozenClock
from server.app import create_app

# The published vector of wechatpy's test suite: token "test" signs these values so.
SIGNED = {
    "signature": "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff",
    "timestamp": "1410685589",
    "nonce": "test",
}
TEXT_MESSAGE = """<xml><ToUserName><![CDATA[gh_parking]]></ToUserName>
<FromUserName><![CDATA[o-driver-openid]]></FromUserName><CreateTime>1764032400</CreateTime>
<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>
<MsgId>1234567890123456</MsgId></xml>"""


async def bot_client(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any], token: str | None
) -> TestClient[Any, Any]:
    app = create_app(settings.model_copy(update={"wechat_token": token}), clock=clock)
    client: TestClient[Any, Any] = await aiohttp_client(app)
    return client


async def test_url_check_answers_echostr_only_when_signed(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any]
) -> None:
    client = await bot_client(settings, clock, aiohttp_client, "test")
    good = await client.get("/wechat/", params={**SIGNED, "echostr": "hello-wechat"})
    assert (good.status, await good.text()) == (200, "hello-wechat")
    forged = {**SIGNED, "signature": SIGNED["signature"][:-1] + "e", "echostr": "x"}
    bad = await client.get("/wechat/", params=forged)
    assert (bad.status, (await bad.json())["code"]) == (401, "unauthenticated")


async def test_unconfigured_account_says_so(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any]
) -> None:
    client = await bot_client(settings, clock, aiohttp_client, None)
    response = await client.get("/wechat/", params={**SIGNED, "echostr": "x"})
    assert (response.status, (await response.json())["code"]) == (503, "wechat_not_configured")


async def test_a_plate_gets_its_stays_and_other_text_gets_help(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any]
) -> None:
    client = await bot_client(settings, clock, aiohttp_client, "test")
    await client.post(
        "/devices/sensors/events",
        json={
            "event_id": "bot-1",
            "device": "MAG-HS2-004",
            "berth": "HS2-004",
            "state": "occupied",
            "plate": "浙B55555",
            "device_time": "2026-11-25T09:00:00+08:00",
        },
    )
    reply = await client.post(
        "/wechat/", params=SIGNED, data=TEXT_MESSAGE.format(content="浙b 55555").encode()
    )
    text = await reply.text()
    assert reply.status == 200
    assert "<ToUserName><![CDATA[o-driver-openid]]></ToUserName>" in text
    assert "浙B55555" in text and "HS2-004" in text and "停车中" in text
    help_reply = await client.post(
        "/wechat/", params=SIGNED, data=TEXT_MESSAGE.format(content="你好").encode()
    )
    assert "发送车牌号" in await help_reply.text()


async def test_garbage_body_is_a_400(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any]
) -> None:
    client = await bot_client(settings, clock, aiohttp_client, "test")
    response = await client.post("/wechat/", params=SIGNED, data=b"<xml><oops")
    assert (response.status, (await response.json())["code"]) == (400, "invalid_request")
