"""Notifications the WeChat Pay sandbox sends merchants: encrypted, signed, kept for resending."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric import rsa

from core.clock import Clock
from sandbox.wechatpay import signing
from sandbox.wechatpay.keys import SandboxKeys
from sandbox.wechatpay.orders import wechat_time

log = logging.getLogger(__name__)


@dataclass
class Notification:
    """A notification sent to a merchant, kept so it can be delivered again."""

    id: str
    url: str
    event_type: str
    body: str
    deliveries: list[int | None] = field(default_factory=list)


class Outbox:
    """Builds notifications exactly as WeChat Pay does and POSTs them to the notify URL."""

    def __init__(self, keys: SandboxKeys, platform_key: rsa.RSAPrivateKey, clock: Clock) -> None:
        self._keys = keys
        self._platform_key = platform_key
        self._clock = clock
        self.sent: dict[str, Notification] = {}
        self.http: aiohttp.ClientSession | None = None

    async def send(
        self,
        url: str,
        event_type: str,
        summary: str,
        original_type: str,
        content: dict[str, Any],
    ) -> Notification:
        """Encrypt the content with the API v3 key, then deliver the notification once."""
        body = {
            "id": str(uuid.uuid4()),
            "create_time": wechat_time(self._clock.now()),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": signing.encrypted_resource(
                self._keys.api_v3_key, original_type, original_type, content
            ),
        }
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        notification = Notification(str(body["id"]), url, event_type, text)
        self.sent[notification.id] = notification
        await self.deliver(notification)
        return notification

    async def deliver(self, notification: Notification) -> None:
        """POST it with fresh Wechatpay-* headers; the answer's status (or None) is kept."""
        if self.http is None:
            raise RuntimeError("the sandbox is not started")
        headers = signing.platform_headers(
            self._platform_key,
            self._keys.platform_serial_no,
            int(self._clock.now().timestamp()),
            signing.nonce(),
            notification.body,
        )
        headers["Content-Type"] = "application/json"
        status: int | None
        try:
            async with self.http.post(
                notification.url, data=notification.body.encode(), headers=headers
            ) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("sandbox notification to %s failed: %s", notification.url, exc)
            status = None
        notification.deliveries.append(status)


def describe(notification: Notification | None) -> dict[str, Any] | None:
    """A notification as the sandbox-only endpoints show it."""
    if notification is None:
        return None
    return {
        "id": notification.id,
        "event_type": notification.event_type,
        "url": notification.url,
        "deliveries": notification.deliveries,
    }
