"""The Official Account webhook: WeChat's signature (wechatpy's published vector) and replies."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto

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


def at_vector_time(clock: FrozenClock, timestamp: str) -> None:
    """Put the centre's clock where a published vector was signed: replays are refused by age."""
    clock.set(datetime.fromtimestamp(int(timestamp), UTC))


def signed_now(clock: FrozenClock, token: str = "test") -> dict[str, str]:
    """WeChat's URL signature for the clock's present moment."""
    timestamp, nonce = str(int(clock.now().timestamp())), "n0nce"
    return {
        "signature": _url_signature(token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
    }


async def bot_client(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any], token: str | None
) -> TestClient[Any, Any]:
    app = create_app(settings.model_copy(update={"wechat_token": token}), clock=clock)
    client: TestClient[Any, Any] = await aiohttp_client(app)
    return client


async def test_url_check_answers_echostr_only_when_signed(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any]
) -> None:
    at_vector_time(clock, SIGNED["timestamp"])
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


async def _ask(client: Any, clock: FrozenClock, content: str) -> str:
    reply = await client.post(
        "/wechat/", params=signed_now(clock), data=TEXT_MESSAGE.format(content=content).encode()
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
    parked = await _ask(client, clock, "浙b 55555")
    assert "浙B55555 暂无待缴停车费" in parked and "HS2-004" not in parked
    clock.advance(timedelta(hours=2))
    left = await client.post("/devices/sensors/events", json=_sensor("bot-2", "vacated", "11:00"))
    fee = (await left.json())["fee_fen"]
    assert fee > 0
    owed = await _ask(client, clock, "浙B55555")
    assert f"有 1 笔待缴停车费，合计{format_yuan(fee)}元" in owed and "HS2-004" not in owed
    help_reply = await client.post(
        "/wechat/", params=signed_now(clock), data=TEXT_MESSAGE.format(content="你好").encode()
    )
    assert "找车位" in await help_reply.text()


async def test_garbage_body_is_a_400(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any]
) -> None:
    at_vector_time(clock, SIGNED["timestamp"])
    client = await bot_client(settings, clock, aiohttp_client, "test")
    response = await client.post("/wechat/", params=SIGNED, data=b"<xml><oops")
    assert (response.status, (await response.json())["code"]) == (400, "invalid_request")


# Tencent's published safe-mode sample (WXBizMsgCrypt demo): key, token, appid and a message.
SAMPLE_TOKEN = "spamtest"
SAMPLE_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
SAMPLE_APPID = "wx2c2769f8efd9abc2"
SAMPLE_QUERY = {
    "timestamp": "1409735669",
    "nonce": "1320562132",
    "encrypt_type": "aes",
    "msg_signature": "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
}
SAMPLE_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PG"
    "HQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6"
    "tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp"
    "3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhv"
    "Ql+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)
SAMPLE_BODY = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
    f"<Encrypt><![CDATA[{SAMPLE_ENCRYPT}]]></Encrypt></xml>"
)


def _url_signature(token: str, timestamp: str, nonce: str) -> str:
    """The plain signature WeChat also sends in safe mode: SHA-1 of the sorted three."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


async def safe_mode_client(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any], aes_key: str | None
) -> TestClient[Any, Any]:
    update = {
        "wechat_token": SAMPLE_TOKEN,
        "wechat_aes_key": SecretStr(aes_key) if aes_key else None,
        "wechat_appid": SAMPLE_APPID,
    }
    client: TestClient[Any, Any] = await aiohttp_client(
        create_app(settings.model_copy(update=update), clock=clock)
    )
    return client


def _signed_query(**changes: str) -> dict[str, str]:
    query = {**SAMPLE_QUERY, **changes}
    signature = _url_signature(SAMPLE_TOKEN, query["timestamp"], query["nonce"])
    return {"signature": signature, **query}


async def test_a_safe_mode_message_is_decrypted_and_answered_encrypted(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any]
) -> None:
    at_vector_time(clock, SAMPLE_QUERY["timestamp"])
    client = await safe_mode_client(settings, clock, aiohttp_client, SAMPLE_AES_KEY)
    reply = await client.post("/wechat/", params=_signed_query(), data=SAMPLE_BODY.encode())
    assert reply.status == 200, await reply.text()
    body = await reply.text()
    assert "<Encrypt>" in body and "抱歉" not in body  # nothing readable on the wire
    fields = {child.tag: child.text or "" for child in ElementTree.fromstring(body)}
    crypto = WeChatCrypto(SAMPLE_TOKEN, SAMPLE_AES_KEY, SAMPLE_APPID)
    answered = parse_message(
        crypto.decrypt_message(body, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"])
    )
    # The sample says "abcdteT" from oyORnuP8q7ou2gfYjqLzSIWZf0rs: not understood.
    assert answered.target == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
    assert "没太明白" in answered.content


async def test_a_safe_mode_message_with_a_forged_signature_or_no_key_is_refused(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any]
) -> None:
    at_vector_time(clock, SAMPLE_QUERY["timestamp"])
    client = await safe_mode_client(settings, clock, aiohttp_client, SAMPLE_AES_KEY)
    forged = _signed_query(msg_signature="0" * 40)
    refused = await client.post("/wechat/", params=forged, data=SAMPLE_BODY.encode())
    assert (refused.status, (await refused.json())["code"]) == (401, "unauthenticated")
    keyless = await safe_mode_client(settings, clock, aiohttp_client, None)
    unset = await keyless.post("/wechat/", params=_signed_query(), data=SAMPLE_BODY.encode())
    assert (unset.status, (await unset.json())["code"]) == (503, "wechat_not_configured")
