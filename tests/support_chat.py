"""Helpers of the support chat tests: agents signed in, the live stream, driver texts."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from ops_api.commands import DEMO_PASSWORD
from sandbox.wechat.push import text_xml
from tests.bot_chat import Follower

Client = TestClient[Any, Any]
_ids = itertools.count(10_000)


async def agent_headers(client: Client, username: str = "demo-support") -> dict[str, str]:
    """Sign a demo staff account in; its bearer header."""
    body = {"username": username, "password": DEMO_PASSWORD}
    async with client.post("/ops/login", json=body) as response:
        assert response.status == 200, await response.text()
        return {"Authorization": f"Bearer {(await response.json())['token']}"}


async def ops(
    client: Client, method: str, path: str, headers: dict[str, str], body: Any = None
) -> tuple[int, Any]:
    """Call a staff route; the status and the JSON."""
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json"] = body
    async with client.request(method, f"/ops/support{path}", **kwargs) as response:
        return response.status, await response.json()


async def silent(driver: Follower, text: str) -> str | None:
    """A text the driver sends; the bot's answer, None when it keeps silent."""
    now = int(driver.clock.now().timestamp())
    return await driver.reply_to(text_xml(driver.openid, text, now, next(_ids)))


class Stream:
    """An agent's open server-sent event stream."""

    def __init__(self, response: ClientResponse) -> None:
        self.response = response

    async def next(self, wait: float = 5.0) -> tuple[str, dict[str, Any]]:
        """The next event's name and data (keepalives skipped)."""
        name, data = "", ""
        while True:
            line = (await asyncio.wait_for(self.response.content.readline(), wait)).decode()
            if line.startswith("event: "):
                name = line[7:].strip()
            elif line.startswith("data: "):
                data = line[6:].strip()
            elif line == "\n" and name:
                return name, json.loads(data)

    async def until(self, name: str, wait: float = 5.0) -> dict[str, Any]:
        """Skip to the next event of this name."""
        while True:
            found, data = await self.next(wait)
            if found == name:
                return data


async def open_stream(client: Client, headers: dict[str, str], query: str = "") -> Stream:
    """Connect to /ops/support/stream and wait for `ready`."""
    response = await client.get(f"/ops/support/stream{query}", headers=headers)
    assert response.status == 200, await response.text()
    assert response.content_type == "text/event-stream"
    stream = Stream(response)
    assert (await stream.next())[0] == "ready"
    return stream
