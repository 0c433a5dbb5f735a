"""The Official Account webhook: WeChat's signature (wechatpy's published vector) and replies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from config.settings import Settings
from core.clock import FrozenClock
from core.money import format_yuan
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


def _sensor(event_id: str, state: str, at: str) -> dict[str, str]:
    return {
        "event_id": event_id,
        "device": "MAG-HS2-004",
        "berth": "HS2-004",
        "state": state,
        "plate": "浙B55555",
        "device_time": f"2026-11-25T{at}:00+08:00",
    }


async def _ask(client: Any, content: str) -> str:
    reply = await client.post(
        "/wechat/", params=SIGNED, data=TEXT_MESSAGE.format(content=content).encode()
    )
    assert reply.status == 200
    text: str = await reply.text()
    assert "<ToUserName><![CDATA[o-driver-openid]]></ToUserName>" in text
    return text


async def test_a_plate_gets_what_it_owes_and_other_text_gets_help(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any]
) -> None:
    client = await bot_client(settings, clock, aiohttp_client, "test")
    await client.post("/devices/sensors/events", json=_sensor("bot-1", "occupied", "09:00"))
    # Anyone can send a plate: a parked car's berth is not told.
    parked = await _ask(client, "浙b 55555")
    assert "浙B55555 暂无待缴停车费" in parked and "HS2-004" not in parked
    clock.advance(timedelta(hours=2))
    left = await client.post("/devices/sensors/events", json=_sensor("bot-2", "vacated", "11:00"))
    fee = (await left.json())["fee_fen"]
    assert fee > 0
    owed = await _ask(client, "浙B55555")
    assert f"有 1 笔待缴停车费，合计 {format_yuan(fee)} 元" in owed and "HS2-004" not in owed
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
