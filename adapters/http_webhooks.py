"""Webhooks to networked lots' systems over HTTP (aiohttp client)."""

from __future__ import annotations

import aiohttp


class HttpWebhookSender:
    """Posts a signed body and answers the status; a lot that hangs is cut off after a timeout."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> int:
        """Send once."""
        async with self._session.post(url, data=body, headers=headers) as response:
            await response.read()
            return response.status
