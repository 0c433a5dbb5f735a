"""With the access log on, no line of the app or its sandbox shows a secret, openid or plate."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from config.settings import Settings
from core.clock import FrozenClock
from sandbox.wechatpay.keys import SandboxKeys
from server.log_masking import ACCESS_LOG_FORMAT
from server.wechat import SANDBOX_SECRET
from tests.wechat_sandbox import MakeClient, app_with_builtin_sandbox, log_in_driver, sandbox_keys

__all__ = ["sandbox_keys"]


async def test_sandbox_and_app_access_lines_are_masked(
    settings: Settings,
    clock: FrozenClock,
    sandbox_keys: tuple[SandboxKeys, Path],
    aiohttp_client: MakeClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, sandbox = await app_with_builtin_sandbox(
        settings.model_copy(update={"access_log": True}), clock, sandbox_keys, aiohttp_client
    )
    with caplog.at_level(logging.DEBUG):
        _, openid = await log_in_driver(client, sandbox, "access-log-person")
        async with client.session.get(
            f"{sandbox}/sandbox/wechat/messages", params={"openid": openid}
        ) as response:
            assert response.status == 200
        async with client.get("/mp/plates/浙B12345/stays") as response:
            assert response.status == 200
    access = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert any("/sns/jscode2session?" in line for line in access), access
    assert any("/mp/plates/浙B***45/stays" in line for line in access), access
    everything = caplog.text
    for secret in (SANDBOX_SECRET, openid, "B12345", "%E6%B5%99B12345"):
        assert secret not in everything
    assert "secret=***" in everything and "js_code=***" in everything


async def test_the_served_access_format_logs_the_masked_request_line(
    settings: Settings, aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from server.app import create_app

    client: TestClient[Any, Any] = await aiohttp_client(
        create_app(settings), server_kwargs={"access_log_format": ACCESS_LOG_FORMAT}
    )
    with caplog.at_level(logging.INFO, logger="aiohttp.access"):
        async with client.get("/mp/plates/苏E67890/stays?access_token=tok-1") as response:
            assert response.status == 200
    [line] = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert '"GET /mp/plates/苏E***90/stays?access_token=*** HTTP/1.1" 200' in line
