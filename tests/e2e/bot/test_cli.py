"""`parking chat` talks to the bot as WeChat does; `parking wechat menu push` sets the menu."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.cli import chat, push_menu
from bot.conversation import HELP
from bot.services import CONFIG_DIR
from config.settings import Settings
from core.clock import FrozenClock
from sandbox.wechatpay.keys import SandboxKeys
from server.cli import main
from tests.bot_chat import bot_settings, follower
from tests.wechat_sandbox import sandbox_url


async def test_parking_chat_is_a_dialogue_through_the_signed_path(
    bot: TestClient[Any, Any],
    oa_sandbox: TestServer,
    settings: Settings,
    sandbox_keys: tuple[SandboxKeys, Path],
    clock: FrozenClock,
) -> None:
    clock.set(datetime.now(UTC))  # `parking chat` signs with the real time, as WeChat does
    configured = bot_settings(settings, sandbox_keys, oa_sandbox, 1)
    said: list[str] = []
    lines = [
        "你好",
        "/loc 29.86905 121.5547 天一广场",
        "包月多少钱",
        "/click HUMAN",
        "/quit",
        "不会发出",
    ]
    code = await chat(
        configured, str(bot.make_url("")), sandbox_url(oa_sandbox), "cli-user", lines, said.append
    )
    assert code == 0 and len(said) == 5 and said[0].startswith("[chatting as cli-user")
    assert said[1] == f"机器人> {HELP}"
    assert (
        said[2].startswith("机器人> 天一广场附近有空位的停车点") and "天一广场地下停车场" in said[2]
    )
    assert "小型车月卡300元/月" in said[3] and "已为您转接人工客服" in said[4]


async def test_menu_push_creates_the_menu_whose_keys_the_bot_answers(
    bot: TestClient[Any, Any],
    oa_sandbox: TestServer,
    settings: Settings,
    sandbox_keys: tuple[SandboxKeys, Path],
    clock: FrozenClock,
) -> None:
    configured = bot_settings(settings, sandbox_keys, oa_sandbox, 1)
    found = await push_menu(configured, CONFIG_DIR / "bot_menu.toml", sandbox_url(oa_sandbox))
    buttons = found["menu"]["button"]
    assert [b["name"] for b in buttons] == ["找车位", "我的停车", "服务"]
    mini = [s for b in buttons for s in b.get("sub_button", []) if s["type"] == "miniprogram"]
    assert mini[0]["appid"] == configured.miniprogram_appid
    alice = await follower(bot, oa_sandbox, clock, "alice")
    keys = [
        s["key"] for b in buttons for s in [b, *b.get("sub_button", [])] if s.get("type") == "click"
    ]
    assert len(keys) == 8
    for key in keys:
        assert await alice.event("CLICK", EventKey=key) not in (None, HELP), key


def test_the_commands_are_registered(capsys: Any) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["wechat", "menu", "--help"])
    assert exit_.value.code == 0
    assert "push" in capsys.readouterr().out
