"""A third-party lot's system, as a vendor would write it against docs/networking.md.

It signs each request with its app key, pushes its entries, exits, payments, counts, faults and
daily totals, asks about plates and sessions, and serves the webhook the platform calls when a
driver pays one of its stays in the mini-program (verifying the platform's signature).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

from core.network_signing import (
    HEADER_APP_ID,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    SignedRequest,
    sign,
    verify,
)


@dataclass
class Answer:
    """An HTTP answer of the platform."""

    status: int
    body: dict[str, Any]


@dataclass
class ThirdPartyLot:
    """One lot's system talking to the platform at `base_url` with its app id and key."""

    session: aiohttp.ClientSession
    base_url: str
    app_id: str
    key: str
    now: Callable[[], float] = field(default=time.time)  # epoch seconds; tests pass their clock
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    refuse_webhooks: int = 0  # answer this many webhooks 503 first (to see the retries)

    async def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        nonce: str | None = None,
    ) -> Answer:
        """Send one signed request; `nonce` repeats one on purpose (a replay)."""
        raw = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        timestamp, nonce = str(int(self.now())), nonce or secrets.token_hex(12)
        path = quote(path, safe="/?=&%")  # signed as sent: percent-encoded
        url = self.base_url.rstrip("/") + path
        headers = {
            HEADER_APP_ID: self.app_id,
            HEADER_TIMESTAMP: timestamp,
            HEADER_NONCE: nonce,
            HEADER_SIGNATURE: sign(self.key, method, path, timestamp, nonce, raw),
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        async with self.session.request(method, url, data=raw or None, headers=headers) as reply:
            return Answer(reply.status, await reply.json(content_type=None))

    async def entry(self, message_id: str, session_id: str, plate: str, at: datetime) -> Answer:
        """Push an entry."""
        body = {
            "message_id": message_id,
            "session_id": session_id,
            "plate": plate,
            "entered_at": at.isoformat(),
        }
        return await self.call("POST", "/network/v1/entries", body)

    async def exit(
        self,
        message_id: str,
        session_id: str,
        plate: str,
        entered_at: datetime,
        exited_at: datetime,
        fee_fen: int,
        paid_fen: int,
    ) -> Answer:
        """Push an exit with its fee and what was paid on site."""
        body = {
            "message_id": message_id,
            "session_id": session_id,
            "plate": plate,
            "entered_at": entered_at.isoformat(),
            "exited_at": exited_at.isoformat(),
            "fee_fen": fee_fen,
            "paid_fen": paid_fen,
        }
        return await self.call("POST", "/network/v1/exits", body)

    async def count(self, message_id: str, total: int, free: int, at: datetime) -> Answer:
        """Push the live free count."""
        body = {
            "message_id": message_id,
            "total_spaces": total,
            "free_spaces": free,
            "counted_at": at.isoformat(),
        }
        return await self.call("POST", "/network/v1/counts", body)

    async def paid_on_site(
        self,
        message_id: str,
        amount_fen: int,
        at: datetime,
        *,
        session_id: str | None = None,
        stay_ref: str | None = None,
        channel: str = "cash",
    ) -> Answer:
        """Push money taken on site for a session or for a city arrears stay."""
        body: dict[str, Any] = {
            "message_id": message_id,
            "amount_fen": amount_fen,
            "channel": channel,
            "paid_at": at.isoformat(),
        }
        body |= {"session_id": session_id} if session_id else {"stay_ref": stay_ref}
        return await self.call("POST", "/network/v1/payments", body)

    async def fault(self, message_id: str, device: str, state: str, at: datetime) -> Answer:
        """Push a device fault or recovery."""
        body = {"message_id": message_id, "device": device, "state": state, "at": at.isoformat()}
        return await self.call("POST", "/network/v1/faults", body)

    async def summary(
        self, message_id: str, day: date, entries: int, exits: int, fee_fen: int, paid_fen: int
    ) -> Answer:
        """Push the day's totals."""
        body = {
            "message_id": message_id,
            "day": day.isoformat(),
            "entries": entries,
            "exits": exits,
            "fee_fen": fee_fen,
            "paid_fen": paid_fen,
        }
        return await self.call("POST", "/network/v1/summaries", body)

    async def arrears(self, plate: str) -> Answer:
        """Ask a plate's city arrears (at the exit)."""
        return await self.call("GET", f"/network/v1/plates/{plate}/arrears")

    async def rights(self, plate: str) -> Answer:
        """Ask whether a plate holds a pass here or the parking service."""
        return await self.call("GET", f"/network/v1/plates/{plate}/rights")

    async def session_payments(self, session_id: str) -> Answer:
        """Ask what was paid in the mini-program for a session ("paid elsewhere")."""
        return await self.call("GET", f"/network/v1/sessions/{session_id}/payments")

    async def notices(self, after: int = 0) -> Answer:
        """Ask the notices after a cursor (those the webhook missed)."""
        return await self.call("GET", f"/network/v1/notices?after={after}")

    def webhook_app(self) -> web.Application:
        """The lot's webhook endpoint: verify the platform's signature, keep the event."""
        app = web.Application()
        app.router.add_post("/webhook", self._receive)
        return app

    async def _receive(self, request: web.Request) -> web.Response:
        raw = await request.read()
        signed = SignedRequest(
            app_id=request.headers.get(HEADER_APP_ID, ""),
            method=request.method,
            path=request.raw_path,
            timestamp=request.headers.get(HEADER_TIMESTAMP, ""),
            nonce=request.headers.get(HEADER_NONCE, ""),
            body=raw,
            signature=request.headers.get(HEADER_SIGNATURE, ""),
        )
        try:
            verify(signed, [self.key])
        except Exception:  # a forged notice is refused, as a lot's system must
            return web.json_response({"code": "signature_invalid"}, status=401)
        if self.refuse_webhooks > 0:
            self.refuse_webhooks -= 1
            return web.json_response({"code": "busy"}, status=503)
        self.webhooks.append(json.loads(raw))
        return web.Response(status=204)
