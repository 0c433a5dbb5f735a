"""Delivery: hostile or broken pushes never get a 500; the 5-second budget; the 48-hour rule."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.routes import NOT_READ
from bot.services import BOT_KEY
from core.chat import OutsideWindowError
from core.clock import FrozenClock
from core.services.chat import ChatIdentity, send_later
from core.store.unit_of_work import UnitOfWork
from sandbox.wechat.push import ACCOUNT_ID, Pusher, text_xml
from tests.bot_chat import OA_APPID, OA_TOKEN, database_of, follower, sandbox_messages

Client = TestClient[Any, Any]

BOMB = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    "<xml><ToUserName>gh</ToUserName><FromUserName>o-x</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>&lol3;</Content><MsgId>1</MsgId></xml>"
)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<xml><ToUserName>gh</ToUserName><FromUserName>o-x</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>"
)
HALF = (
    "<xml><ToUserName>gh</ToUserName><CreateTime>1</CreateTime><MsgType>text</MsgType>"
    "<Content>你好</Content></xml>"
)
CUT = text_xml("o-x", "你好", 1, 1)[:80]
UNKNOWN = (
    f"<xml><ToUserName>{ACCOUNT_ID}</ToUserName><FromUserName>o-x</FromUserName>"
    "<CreateTime>1</CreateTime><MsgType>hologram</MsgType><MsgId>1</MsgId></xml>"
)


@pytest.mark.parametrize(
    ("body", "status"),
    [(BOMB, 400), (XXE, 400), (HALF, 400), (CUT, 400), ("not xml at all", 400), ("", 400)],
)
async def test_hostile_or_broken_pushes_are_refused_not_failed(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock, body: str, status: int
) -> None:
    alice = await follower(bot, oa_sandbox, clock, "alice")
    for pusher in (Pusher(OA_TOKEN, OA_APPID), alice.pusher):  # plaintext and safe mode
        query, data = pusher.push(body, int(clock.now().timestamp())) if body else ({}, b"")
        if not body:
            query = Pusher(OA_TOKEN, OA_APPID).push("<xml/>", int(clock.now().timestamp()))[0]
        response = await bot.post("/wechat/", params=query, data=data)
        assert response.status == status, await response.text()
        assert (await response.json())["code"] == "invalid_request"


async def test_an_unknown_type_is_acknowledged_unread(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    alice = await follower(bot, oa_sandbox, clock, "alice")
    assert await alice.post(UNKNOWN) == (200, "success")
    image = UNKNOWN.replace("hologram", "image").replace("o-x", alice.openid)
    hint = await alice.reply_to(image.replace("<MsgId>", "<PicUrl>http://x/1.jpg</PicUrl><MsgId>"))
    assert hint == NOT_READ


async def test_a_body_over_64_kb_is_413(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    query, _ = Pusher(OA_TOKEN, OA_APPID).push("<xml/>", int(clock.now().timestamp()))
    response = await bot.post("/wechat/", params=query, data=b"<xml>" + b"x" * 70_000 + b"</xml>")
    assert response.status == 413


async def test_a_long_answer_fits_2048_bytes(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    alice = await follower(bot, oa_sandbox, clock, "alice")
    plates = " ".join(f"浙B{n:05d}" for n in range(12000, 12018))
    answer = await alice.say(f"绑定 {plates}")  # Follower.say checks the 2048 bytes
    assert "已绑定 浙B12000" in answer


async def test_customer_service_messages_only_within_48_hours(
    bot: Client, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    alice = await follower(bot, oa_sandbox, clock, "alice")
    await alice.say("你好")
    services = bot.app[BOT_KEY] if bot.app is not None else None
    assert services is not None and services.client is not None
    identity = ChatIdentity(OA_APPID, alice.openid, None)
    clock.advance(timedelta(hours=47, minutes=59))
    async with UnitOfWork(database_of(bot).sessions) as uow:
        await send_later(uow, clock, services.client, identity, "客服回复：已处理")
    sent = await sandbox_messages(bot, oa_sandbox, alice.openid)
    assert [m["text"]["content"] for m in sent] == ["客服回复：已处理"]
    # VIEW does not open the window again; only the driver's own message does.
    assert await alice.event("VIEW", EventKey="https://example.com/") is None
    clock.advance(timedelta(minutes=2))
    async with UnitOfWork(database_of(bot).sessions) as uow:
        with pytest.raises(OutsideWindowError):
            await send_later(uow, clock, services.client, identity, "太晚了")
    await alice.event("CLICK", EventKey="GREETING")
    async with UnitOfWork(database_of(bot).sessions) as uow:
        await send_later(uow, clock, services.client, identity, "又可以了")
    # An unfollower gets nothing, even inside the window.
    await alice.event("unsubscribe")
    async with UnitOfWork(database_of(bot).sessions) as uow:
        with pytest.raises(OutsideWindowError):
            await send_later(uow, clock, services.client, identity, "取关了")
    sent = await sandbox_messages(bot, oa_sandbox, alice.openid)
    assert [m["text"]["content"] for m in sent] == ["客服回复：已处理", "又可以了"]


async def test_an_answer_over_budget_goes_as_a_customer_service_message(
    make_bot: Any, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    bot = await make_bot(bot_reply_seconds=0.000001)
    alice = await follower(bot, oa_sandbox, clock, "alice")
    assert await alice.post(text_xml(alice.openid, "包月多少钱", 1, 77)) == (200, "success")
    for _ in range(100):
        sent = await sandbox_messages(bot, oa_sandbox, alice.openid)
        if sent:
            break
        await asyncio.sleep(0.05)
    assert len(sent) == 1 and "小型车月卡300元/月" in sent[0]["text"]["content"]
    assert sent[0]["msgtype"] == "text"
