"""`parking chat` (talk to the running bot as a WeChat user) and `parking wechat menu push`."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import aiohttp

from adapters.official_account import OfficialAccountClient
from bot.intents import Intent
from bot.services import CONFIG_DIR, AccountConfig, account_config
from config.settings import Settings
from core.drivers import WeChatUnavailableError
from sandbox.wechat.push import Pusher, event_xml, location_xml, text_xml

PROMPT = "你> "
CHAT_HELP = (
    "Type a message as a driver would. Commands: /loc LAT LNG [label], /scan SCENE "
    "(berth:HS1-001, lane:LOT-TIANYI/X1), /click KEY (FIND_PARKING, ARREARS...), "
    "/follow, /unfollow, /quit"
)


def add_arguments(commands: Any) -> None:
    """Register `chat` and `wechat menu push` on the `parking` parser."""
    chat = commands.add_parser("chat", help="talk to the running bot as a WeChat user")
    chat.add_argument("--url", default=None, help="the server (default http://HOST:PORT)")
    chat.add_argument("--person", default="demo-driver", help="sandbox person to chat as")
    chat.add_argument(
        "--sandbox-url", default=None, help="default http://SANDBOX_HOST:SANDBOX_PORT"
    )
    chat.set_defaults(run=run_chat)
    wechat = commands.add_parser("wechat", help="Official Account tools")
    wechat_commands = wechat.add_subparsers(dest="wechat_command", required=True)
    menu = wechat_commands.add_parser("menu", help="the account's menu")
    menu_commands = menu.add_subparsers(dest="menu_command", required=True)
    push = menu_commands.add_parser("push", help="push config/bot_menu.toml to WeChat")
    push.add_argument("--file", default=None, help="default: bot_menu.toml in the bot config")
    push.add_argument(
        "--sandbox", action="store_true", help="push to the sandbox of a running `make run`"
    )
    push.set_defaults(run=run_menu_push)


def _sandbox_url(settings: Settings, given: str | None = None) -> str:
    return given or f"http://{settings.sandbox_host}:{settings.sandbox_port}"


def load_menu(path: Path, miniprogram_appid: str | None) -> dict[str, Any]:
    """The menu file with the mini-program filled in; every click key must name an intent."""
    with path.open("rb") as handle:
        menu = tomllib.load(handle)
    for button in menu.get("button", []):
        for item in [button, *button.get("sub_button", [])]:
            if item.get("type") == "click":
                Intent(str(item["key"]).lower())  # ValueError names a key no intent answers
            if item.get("type") == "miniprogram":
                if not miniprogram_appid:
                    raise ValueError("a miniprogram button needs PARKING_MINIPROGRAM_APPID")
                item["appid"] = str(item["appid"]).replace("{miniprogram_appid}", miniprogram_appid)
    return menu


async def push_menu(settings: Settings, path: Path, base_url: str) -> dict[str, Any]:
    """Create the menu and read it back."""
    account = account_config(settings)
    if not (account.appid and account.secret):
        raise ValueError("set PARKING_WECHAT_APPID and PARKING_WECHAT_SECRET (or use --sandbox)")
    client = OfficialAccountClient(account.appid, account.secret, base_url=base_url, timeout=10)
    await client.create_menu(load_menu(path, account.miniprogram_appid))
    return await client.menu()


def run_menu_push(settings: Settings, args: argparse.Namespace) -> int:
    """`parking wechat menu push`."""
    if args.sandbox:
        settings = settings.model_copy(update={"wechat_sandbox": True})
    folder = Path(settings.bot_config_dir) if settings.bot_config_dir else CONFIG_DIR
    path = Path(args.file) if args.file else folder / "bot_menu.toml"
    base = _sandbox_url(settings) if settings.wechat_sandbox else settings.wechat_api_base_url
    try:
        found = asyncio.run(push_menu(settings, path, base))
    except (OSError, ValueError, WeChatUnavailableError) as exc:
        print(f"parking: menu not pushed: {getattr(exc, 'detail', '') or exc}", file=sys.stderr)
        return 1
    names = [b.get("name") for b in found.get("menu", {}).get("button", [])]
    print(f"menu pushed to {base}: {' | '.join(str(n) for n in names)}")
    return 0


class ChatSession:
    """One sandbox person chatting with the bot through the signed (and encrypted) webhook."""

    def __init__(
        self, http: aiohttp.ClientSession, url: str, account: AccountConfig, openid: str
    ) -> None:
        assert account.token and account.appid
        self._http = http
        self._url = url.rstrip("/") + "/wechat/"
        self._pusher = Pusher(account.token, account.appid, account.aes_key)
        self.openid = openid
        self._ids = itertools.count(int(time.time() * 1000))

    async def send(self, xml: str) -> str | None:
        """Post a push; the bot's text, or None for 'success'."""
        query, body = self._pusher.push(xml, int(time.time()))
        async with self._http.post(self._url, params=query, data=body) as response:
            text = await response.text()
            if response.status != 200:
                return f"[HTTP {response.status}] {text}"
        return None if text == "success" else str(self._pusher.open(text).content)

    async def line(self, line: str) -> str | None:
        """What one typed line sends, answered."""
        now = int(time.time())
        word, _, rest = line.partition(" ")
        if word == "/loc":
            lat, lng, *label = rest.split()
            return await self.send(
                location_xml(
                    self.openid,
                    float(lat),
                    float(lng),
                    " ".join(label) or "我的位置",
                    now,
                    next(self._ids),
                )
            )
        if word == "/scan":
            return await self.send(
                event_xml(self.openid, "SCAN", now, EventKey=rest.strip(), Ticket="cli")
            )
        if word == "/click":
            return await self.send(
                event_xml(self.openid, "CLICK", now, EventKey=rest.strip().upper())
            )
        if word in ("/follow", "/unfollow"):
            return await self.send(
                event_xml(self.openid, word[1:].replace("follow", "subscribe"), now)
            )
        return await self.send(text_xml(self.openid, line, now, next(self._ids)))


async def follow(http: aiohttp.ClientSession, sandbox: str, appid: str, person: str) -> str:
    """The sandbox person follows the account; their openid."""
    async with http.post(
        f"{sandbox.rstrip('/')}/sandbox/wechat/follow", json={"appid": appid, "person": person}
    ) as response:
        response.raise_for_status()
        found: dict[str, str] = await response.json()
    return found["openid"]


async def chat(
    settings: Settings,
    url: str,
    sandbox: str,
    person: str,
    lines: Iterable[str],
    say: Callable[[str], None],
) -> int:
    """Read lines, post each as WeChat would, print what the bot answers."""
    account = account_config(settings.model_copy(update={"wechat_sandbox": True}))
    assert account.appid
    async with aiohttp.ClientSession() as http:
        openid = await follow(http, sandbox, account.appid, person)
        session = ChatSession(http, url, account, openid)
        say(f"[chatting as {person} ({openid[:8]}…) with {url}; {CHAT_HELP}]")
        for raw in lines:
            line = raw.strip()
            if line in ("/quit", "/exit"):
                break
            if line:
                answer = await session.line(line)
                say(f"机器人> {answer}" if answer is not None else "机器人> (success)")
    return 0


def _stdin_lines() -> Iterable[str]:
    while True:
        try:
            yield input(PROMPT)
        except EOFError:
            return


def run_chat(settings: Settings, args: argparse.Namespace) -> int:
    """`parking chat`."""
    url = args.url or f"http://{settings.host}:{settings.port}"
    try:
        return asyncio.run(
            chat(
                settings,
                url,
                _sandbox_url(settings, args.sandbox_url),
                args.person,
                _stdin_lines(),
                print,
            )
        )
    except aiohttp.ClientError as exc:
        print(
            f"parking: cannot reach the bot or its sandbox ({exc}); is `make run` serving?",
            file=sys.stderr,
        )
        return 1
