"""Support chat rules over HTTP: one claim wins, 48 hours, masking, rights, idle, hand back."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from defusedxml.ElementTree import fromstring
from sqlalchemy import func, select, update
from wechatpy.crypto import WeChatCrypto

from bot.conversation import HELP
from core.clock import FrozenClock
from core.store.chat import ChatHandoffRow, ChatMessageRow
from core.store.driver_notices import SubscribeGrantRow
from core.store.people import DriverRow
from core.store.unit_of_work import UnitOfWork
from core.support import CANNED, HANDED_BACK, IDLE_BACK, RATING_THANKS
from sandbox.wechat.push import text_xml
from server.support_events import sweep_once
from server.support_keys import SUPPORT_PORTS_KEY
from tests.bot_chat import (
    OA_AES_KEY,
    OA_APPID,
    OA_TOKEN,
    Follower,
    database_of,
    follower,
    sandbox_messages,
    sensor,
)
from tests.support_chat import agent_headers, ops, silent

Client = TestClient[Any, Any]


async def _queued(bot: Client, sandbox: TestServer, clock: FrozenClock, person: str) -> Any:
    driver = await follower(bot, sandbox, clock, person)
    assert "已为您转接人工客服" in await driver.say("转人工")
    async with UnitOfWork(database_of(bot).sessions) as uow:
        row = await uow.session.scalar(
            select(ChatHandoffRow).where(ChatHandoffRow.openid == driver.openid)
        )
    assert row is not None
    return driver, row.id


async def _held(bot: Client, sandbox: TestServer, clock: FrozenClock, person: str) -> Any:
    driver, conversation = await _queued(bot, sandbox, clock, person)
    agent = await agent_headers(bot)
    status, _ = await ops(bot, "POST", f"/conversations/{conversation}/claim", agent)
    assert status == 200
    return driver, conversation, agent


async def test_two_agents_claiming_at_once_one_wins(
    make_bot: Any, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    bot = await make_bot(support_sweep_seconds=0)
    _, conversation = await _queued(bot, oa_sandbox, clock, "racer")
    support, admin = await agent_headers(bot), await agent_headers(bot, "demo-admin")
    path = f"/conversations/{conversation}/claim"
    answers = await asyncio.gather(*(ops(bot, "POST", path, h) for h in [support, admin] * 3))
    won = [body for status, body in answers if status == 200]
    lost = [body for status, body in answers if status != 200]
    assert len(won) == 1 and len(lost) == 5, answers
    assert {(b["code"], b["message"]) for b in lost} == {
        ("already_claimed", "该会话已被其他客服接入")
    }
    _, history = await ops(bot, "GET", f"/conversations/{conversation}", support)
    assert history["conversation"]["taken_by"] == won[0]["taken_by"]


async def test_replies_only_inside_48_hours_then_offer_sms_or_subscribe(
    make_bot: Any, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    # Idle for longer than the window: the conversation stays with the agent meanwhile.
    bot = await make_bot(support_sweep_seconds=0, support_idle_minutes=3 * 24 * 60)
    driver, conversation, agent = await _held(bot, oa_sandbox, clock, "late")
    path = f"/conversations/{conversation}/messages"
    clock.advance(timedelta(hours=48))  # the last message was exactly 48 hours ago: still open
    agent = await agent_headers(bot)  # the morning's token has expired
    status, _ = await ops(bot, "POST", path, agent, {"kind": "canned", "canned": "checking"})
    assert status == 201
    clock.advance(timedelta(seconds=1))
    before = len(await sandbox_messages(bot, oa_sandbox, driver.openid))
    status, body = await ops(bot, "POST", path, agent, {"text": "还在吗？"})
    assert (status, body["code"]) == (409, "outside_customer_service_window")
    assert "未授权订阅消息或短信" in body["message"]
    async with UnitOfWork(database_of(bot).sessions) as uow:
        row = await uow.session.get(ChatHandoffRow, conversation)
        assert row is not None and row.driver_id is not None
        await uow.session.execute(
            update(DriverRow).where(DriverRow.id == row.driver_id).values(phone="13812345678")
        )
        uow.session.add(
            SubscribeGrantRow(
                driver_id=row.driver_id, template_id="t-1", remaining=1, updated_at=clock.now()
            )
        )
        await uow.commit()
    status, body = await ops(bot, "POST", path, agent, {"text": "还在吗？"})
    assert (status, body["message"]) == (
        409,
        "用户48小时内未与公众号互动，无法发送客服消息，可改用订阅消息或短信通知用户",
    )
    assert len(await sandbox_messages(bot, oa_sandbox, driver.openid)) == before
    async with UnitOfWork(database_of(bot).sessions) as uow:
        agents = await uow.session.scalar(
            select(func.count()).where(
                ChatMessageRow.handoff_id == conversation, ChatMessageRow.sender == "agent"
            )
        )
    assert agents == 1
    # The driver writes again: the window opens again.
    assert await silent(driver, "在的") is None
    status, _ = await ops(bot, "POST", path, agent, {"text": "好的"})
    assert status == 201


async def test_contacts_are_masked_unless_the_role_may_read_them(
    make_bot: Any, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    bot = await make_bot(support_sweep_seconds=0)
    driver = await follower(bot, oa_sandbox, clock, "masked")
    assert "浙B66666" in await driver.say("绑定 浙B66666")
    for event in (
        sensor("m-1", "HS1-005", "occupied", "浙B66666", "09:00"),
        sensor("m-2", "HS1-005", "vacated", "浙B66666", "10:30"),
    ):
        async with bot.post("/devices/sensors/events", json=event) as response:
            assert response.status < 300, await response.text()
    assert "已为您转接人工客服" in await driver.say("人工")
    async with UnitOfWork(database_of(bot).sessions) as uow:
        row = await uow.session.scalar(
            select(ChatHandoffRow).where(ChatHandoffRow.openid == driver.openid)
        )
        assert row is not None and row.driver_id is not None
        conversation = row.id
        await uow.session.execute(
            update(DriverRow).where(DriverRow.id == row.driver_id).values(phone="13812345678")
        )
        await uow.commit()
    path = f"/conversations/{conversation}/driver"
    status, seen = await ops(bot, "GET", path, await agent_headers(bot))
    assert status == 200, seen
    assert seen["phone"] == "138****5678"
    assert seen["openid"] == f"{driver.openid[:4]}****{driver.openid[-4:]}"
    assert [(p["plate"], p["verified"]) for p in seen["plates"]] == [("浙B66666", False)]
    assert [s["plate"] for s in seen["stays"]] == ["浙B66666"]
    assert seen["arrears"] == []  # an unverified plate's arrears are not shown
    status, full = await ops(bot, "GET", path, await agent_headers(bot, "demo-admin"))
    assert (full["phone"], full["openid"]) == ("13812345678", driver.openid)
    status, queue = await ops(bot, "GET", "/queue", await agent_headers(bot, "demo-admin"))
    assert queue["items"][0]["openid"] == driver.openid


async def test_only_the_holder_acts_and_transfers_go_to_agents(
    make_bot: Any, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    bot = await make_bot(support_sweep_seconds=0)
    driver, conversation, support = await _held(bot, oa_sandbox, clock, "rights")
    admin = await agent_headers(bot, "demo-admin")
    base = f"/conversations/{conversation}"
    for path, body in [
        ("/messages", {"text": "插话"}),
        ("/close", {"category": "other", "resolution": "不是我的"}),
        ("/hand-back", None),
    ]:
        status, error = await ops(bot, "POST", base + path, admin, body)
        assert (status, error["code"]) == (403, "not_your_conversation"), path
    status, error = await ops(bot, "POST", base + "/transfer", support, {"to": "demo-viewer"})
    assert (status, error["code"]) == (409, "unknown_agent")
    status, moved = await ops(bot, "POST", base + "/transfer", support, {"to": "demo-admin"})
    assert (status, moved["taken_by"]) == (200, "demo-admin")
    status, error = await ops(bot, "POST", base + "/messages", support, {"text": "我还在"})
    assert (status, error["code"]) == (403, "not_your_conversation")
    status, _ = await ops(
        bot, "POST", base + "/messages", admin, {"kind": "canned", "canned": "greeting"}
    )
    assert status == 201
    assert CANNED["greeting"] in [
        m["text"]["content"]
        for m in await sandbox_messages(bot, oa_sandbox, driver.openid)
        if m["msgtype"] == "text"
    ]
    card = {"kind": "miniprogram", "title": "去缴费", "page": "pages/pay/index"}
    status, _ = await ops(bot, "POST", base + "/messages", admin, card)
    assert status == 201
    cards = [
        m
        for m in await sandbox_messages(bot, oa_sandbox, driver.openid)
        if m["msgtype"] == "miniprogrampage"
    ]
    assert [c["miniprogrampage"]["pagepath"] for c in cards] == ["pages/pay/index"]
    status, error = await ops(
        bot, "POST", base + "/messages", admin, {"kind": "canned", "canned": "nope"}
    )
    assert (status, error["code"]) == (404, "unknown_canned_reply")
    status, error = await ops(bot, "POST", base + "/claim", support)
    assert (status, error["code"]) == (409, "already_claimed")
    status, error = await ops(bot, "POST", "/conversations/99999/claim", support)
    assert (status, error["code"]) == (404, "conversation_not_found")
    status, _ = await ops(bot, "POST", base + "/hand-back", admin)
    assert status == 200
    status, error = await ops(bot, "POST", base + "/messages", admin, {"text": "再说一句"})
    assert (status, error["code"]) == (409, "conversation_over")


async def test_hand_back_and_idle_return_the_driver_to_the_bot(
    make_bot: Any, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    bot = await make_bot(support_sweep_seconds=0, support_idle_minutes=30)
    back, conversation, agent = await _held(bot, oa_sandbox, clock, "back")
    status, ended = await ops(bot, "POST", f"/conversations/{conversation}/hand-back", agent)
    assert (status, ended["outcome"]) == (200, "handed_back")
    assert _last_text(await sandbox_messages(bot, oa_sandbox, back.openid)) == HANDED_BACK
    assert await back.say("你好") == HELP
    assert await back.say("5") != RATING_THANKS  # no rating was asked for a hand back

    swept, swept_id, _ = await _held(bot, oa_sandbox, clock, "swept")
    clock.advance(timedelta(minutes=29))
    app = bot.app
    assert app is not None
    assert await sweep_once(app, app[SUPPORT_PORTS_KEY]) == 0
    clock.advance(timedelta(minutes=1))
    assert await sweep_once(app, app[SUPPORT_PORTS_KEY]) == 1
    assert _last_text(await sandbox_messages(bot, oa_sandbox, swept.openid)) == IDLE_BACK
    assert await swept.say("你好") == HELP

    lazy, lazy_id, _ = await _held(bot, oa_sandbox, clock, "lazy")
    clock.advance(timedelta(minutes=31))
    assert await lazy.say("你好") == f"{IDLE_BACK}\n{HELP}"
    async with UnitOfWork(database_of(bot).sessions) as uow:
        outcomes = [
            (await uow.session.get(ChatHandoffRow, i)) for i in (conversation, swept_id, lazy_id)
        ]
    assert [r.outcome for r in outcomes if r] == ["handed_back", "idle", "idle"]


async def test_metrics_per_agent_and_day(
    make_bot: Any, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    bot = await make_bot(support_sweep_seconds=0)
    driver, conversation = await _queued(bot, oa_sandbox, clock, "measured")
    agent = await agent_headers(bot)
    clock.advance(timedelta(minutes=2))
    assert (await ops(bot, "POST", f"/conversations/{conversation}/claim", agent))[0] == 200
    clock.advance(timedelta(seconds=30))
    base = f"/conversations/{conversation}"
    assert (await ops(bot, "POST", base + "/messages", agent, {"text": "您好"}))[0] == 201
    clock.advance(timedelta(minutes=4))
    close = {"category": "payment", "resolution": "已解释计费规则"}
    assert (await ops(bot, "POST", base + "/close", agent, close))[0] == 200
    assert await driver.say("４分") == RATING_THANKS
    status, metrics = await ops(bot, "GET", "/metrics?day=2026-11-25", agent)
    assert status == 200, metrics
    assert metrics["agents"] == [
        {
            "agent": "demo-support",
            "conversations": 1,
            "waiting_seconds": 120.0,
            "first_response_seconds": 30.0,
            "handling_seconds": 270.0,
            "ratings": 1,
            "rating_average": 4.0,
        }
    ]
    assert (await ops(bot, "GET", "/metrics?day=2026-11-24", agent))[1]["agents"] == []


async def test_an_account_may_hand_chats_to_wechat_customer_service(
    make_bot: Any, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    bot = await make_bot(support_sweep_seconds=0, support_wechat_customer_service=[OA_APPID])
    driver = await follower(bot, oa_sandbox, clock, "kf")
    xml = _reply_xml(driver, await driver.post(text_xml(driver.openid, "人工", _now(clock), 77)))
    assert fromstring(xml).findtext("MsgType") == "transfer_customer_service"
    async with UnitOfWork(database_of(bot).sessions) as uow:
        assert await uow.support.queue(10) == []


def _now(clock: FrozenClock) -> int:
    return int(clock.now().timestamp())


def _reply_xml(driver: Follower, answer: tuple[int, str]) -> str:
    status, body = answer
    assert status == 200, body
    fields = fromstring(body)
    crypto = WeChatCrypto(OA_TOKEN, OA_AES_KEY, OA_APPID)
    return str(
        crypto.decrypt_message(
            body,
            fields.findtext("MsgSignature") or "",
            fields.findtext("TimeStamp") or "",
            fields.findtext("Nonce") or "",
        )
    )


def _last_text(messages: list[Any]) -> str:
    return str([m["text"]["content"] for m in messages if m.get("msgtype") == "text"][-1])


async def test_a_second_miss_brings_what_the_bot_missed_to_the_queue(
    make_bot: Any, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    bot = await make_bot(support_sweep_seconds=0)
    lost = await follower(bot, oa_sandbox, clock, "lost")
    await lost.say("我的卡怎么刷不了")
    await lost.say("闸机一直不抬杆")
    assert "已为您转接人工客服" in await lost.say("是的")
    status, queue = await ops(bot, "GET", "/queue", await agent_headers(bot))
    [entry] = queue["items"]
    assert (status, entry["reason"]) == (200, "missed")
    assert [m["body"] for m in entry["last_messages"]] == [
        "我的卡怎么刷不了",
        "闸机一直不抬杆",
        "是的",
    ]
