"""App keys of the support chat, apart so the bot and the consoles both reach them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from aiohttp import web

from core.support import SupportPorts


class EventStream(Protocol):
    """The broker's listening side, for the consoles' stream."""

    def listen(self) -> AsyncIterator[dict[str, Any] | None]:
        """None once subscribed, then events."""
        ...


SUPPORT_PORTS_KEY = web.AppKey("support_ports", SupportPorts)
SUPPORT_STREAM_KEY: web.AppKey[EventStream] = web.AppKey("support_stream")
