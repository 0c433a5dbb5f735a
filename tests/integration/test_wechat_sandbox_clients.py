"""wechatpy's clients, pointed at the WeChat sandbox, work unchanged: tokens, login, messages."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from wechatpy.exceptions import WeChatClientException

from adapters.wechat import MiniProgramClient, WeChatApiClient
from core.clock import FrozenClock
from core.drivers import DriverMessage, WeChatLoginError
from core.services.refunds import DUPLICATE_REFUNDED
from sandbox.wechat.app import create_app
from sandbox.wechat.directory import Directory

MINI, MINI_SECRET = "wx-mini-000000001", "mini-secret"
OA, OA_SECRET = "wx-oa-0000000001", "oa-secret"


@pytest.fixture
async def wechat(
    clock: FrozenClock, aiohttp_server: Callable[..., Awaitable[TestServer]]
) -> tuple[TestServer, Directory]:
    directory = Directory({MINI: MINI_SECRET, OA: OA_SECRET})
    server = await aiohttp_server(create_app(directory, clock=clock))
    return server, directory


def base(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


async def test_code2session_and_phone_number(
    wechat: tuple[TestServer, Directory], clock: FrozenClock
) -> None:
    server, directory = wechat
    client = MiniProgramClient(MINI, MINI_SECRET, base_url=base(server))
    user = directory.user(MINI, "li-lei")
    session = await client.code_to_session(directory.issue_code(user, clock.now()))
    assert (session.openid, session.unionid) == (user.openid, user.unionid)
    with pytest.raises(WeChatLoginError):
        await client.code_to_session("forged-code")
    phone_code = directory.issue_code(user, clock.now(), phone="13800138000")
    assert await client.phone_number(phone_code) == "13800138000"
    clock.advance(timedelta(minutes=6))
    with pytest.raises(WeChatLoginError):
        await client.code_to_session(directory.issue_code(user, clock.now() - timedelta(minutes=6)))


async def test_subscribe_messages_need_an_authorisation_each(
    wechat: tuple[TestServer, Directory],
) -> None:
    server, directory = wechat
    client = MiniProgramClient(
        MINI, MINI_SECRET, base_url=base(server), templates={DUPLICATE_REFUNDED: "tpl-1"}
    )
    openid = directory.user(MINI, "li-lei").openid
    message = DriverMessage(MINI, openid, DUPLICATE_REFUNDED, {"amount": "8.00元"})
    assert not await client.notify(message)  # no authorisation given yet
    directory.grant(openid, "tpl-1")
    assert await client.notify(message)
    assert not await client.notify(message)  # that one was spent


async def test_official_account_customer_service_message_with_wechatpy(
    wechat: tuple[TestServer, Directory], clock: FrozenClock
) -> None:
    server, directory = wechat
    client = WeChatApiClient(OA, OA_SECRET, base(server), timeout=5)
    openid = directory.user(OA, "li-lei").openid
    result: dict[str, Any] = await asyncio.to_thread(client.message.send_text, openid, "您好")
    assert result["errcode"] == 0
    with pytest.raises(WeChatClientException) as unknown:
        await asyncio.to_thread(client.message.send_text, "o-nobody", "您好")
    assert unknown.value.errcode == 40003
    # An expired token is fetched again by wechatpy itself (errcode 42001 -> retry).
    clock.advance(timedelta(hours=3))
    again = await asyncio.to_thread(client.message.send_text, openid, "还在吗")
    assert again["errcode"] == 0
    wrong = WeChatApiClient(OA, "not-the-secret", base(server), timeout=5)
    with pytest.raises(WeChatClientException) as refused:
        await asyncio.to_thread(wrong.fetch_access_token)
    assert refused.value.errcode == 40125
