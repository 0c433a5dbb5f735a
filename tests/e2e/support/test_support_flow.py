"""The support chat end to end: 人工 → queue → claim → reply → live answer → close → rating."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.conversation import HELP
from core.clock import FrozenClock
from core.store.chat import ChatHandoffRow
from core.store.unit_of_work import UnitOfWork
from core.support import RATING_QUESTION, RATING_THANKS
from tests.bot_chat import database_of, follower, sandbox_messages
from tests.support_chat import agent_headers, open_stream, ops, silent

Client = TestClient[Any, Any]


def _texts(messages: list[Any]) -> list[str]:
    return [m["text"]["content"] for m in messages if m.get("msgtype") == "text"]


async def test_driver_reaches_an_agent_and_back_to_the_bot(
    make_bot: Any, oa_sandbox: TestServer, clock: FrozenClock
) -> None:
    bot = await make_bot(support_sweep_seconds=0)
    dora = await follower(bot, oa_sandbox, clock, "dora")
    assert "浙B12345" in await dora.say("绑定 浙B12345")
    agent = await agent_headers(bot)
    stream = await open_stream(bot, agent)

    asked = await dora.say("人工")
    assert "已为您转接人工客服（编号" in asked and "前面还有0位" in asked, asked
    queued = await stream.until("queued")
    status, queue = await ops(bot, "GET", "/queue", agent)
    assert status == 200
    [entry] = queue["items"]
    assert entry["id"] == queued["conversation"]
    assert (entry["reason"], entry["status"]) == ("asked", "open")
    assert [p["plate"] for p in entry["plates"]] == ["浙B12345"]
    # What the driver wrote just before asking comes along (the bot's memory keeps three).
    assert [m["body"] for m in entry["last_messages"]] == ["绑定 浙B12345", "人工"]
    assert "****" in entry["openid"] and entry["openid"] != dora.openid
    conversation = entry["id"]

    # Queued: the driver's words are kept for the agent and the bot still answers.
    assert await dora.say("你好") == HELP
    status, claimed = await ops(bot, "POST", f"/conversations/{conversation}/claim", agent)
    assert (status, claimed["status"], claimed["taken_by"]) == (200, "taken", "demo-support")
    assert (await stream.until("claimed"))["agent"] == "demo-support"

    reply = {"kind": "text", "text": "您好，我是客服小王，请问哪笔费用有疑问？"}
    status, sent = await ops(bot, "POST", f"/conversations/{conversation}/messages", agent, reply)
    assert (status, sent["sender"], sent["author"]) == (201, "agent", "demo-support")
    assert reply["text"] in _texts(await sandbox_messages(bot, oa_sandbox, dora.openid))

    # Held: the bot is silent and the agent sees the driver's answer live.
    assert await silent(dora, "昨天在中山东路停车被多扣了5元") is None
    live = await stream.until("message")
    while live["message"]["sender"] != "driver":
        live = await stream.until("message")
    assert live["conversation"] == conversation
    assert live["message"]["body"] == "昨天在中山东路停车被多扣了5元"

    close = {"category": "fee", "resolution": "核实为重复计费，已提交退款"}
    status, closed = await ops(bot, "POST", f"/conversations/{conversation}/close", agent, close)
    assert (status, closed["status"], closed["outcome"]) == (200, "closed", "closed")
    assert (closed["category"], closed["first_response_at"] is not None) == ("fee", True)
    assert (await stream.until("ended"))["outcome"] == "closed"
    assert _texts(await sandbox_messages(bot, oa_sandbox, dora.openid))[-1] == RATING_QUESTION

    assert await dora.say("5") == RATING_THANKS
    assert (await stream.until("rated"))["rating"] == 5
    async with UnitOfWork(database_of(bot).sessions) as uow:
        row = await uow.session.scalar(
            select(ChatHandoffRow).where(ChatHandoffRow.id == conversation)
        )
    assert row is not None and (row.rating, row.resolution) == (5, close["resolution"])

    assert await dora.say("你好") == HELP  # the bot answers again
    status, history = await ops(bot, "GET", f"/conversations/{conversation}", agent)
    assert status == 200
    senders = [(m["sender"], m["body"]) for m in history["messages"]]
    assert senders[:4] == [
        ("driver", "绑定 浙B12345"),
        ("driver", "人工"),
        ("driver", "你好"),
        ("agent", reply["text"]),
    ]
    assert ("driver", "昨天在中山东路停车被多扣了5元") in senders
    await stream.response.release()
