"""Use cases: tell a lot's system at once that its stay was paid in the mini-program.

A notice is written to the outbox in the payment's own transaction, then sent signed (the lot's
key, the same scheme as its requests) and resent with backoff until the lot answers 2xx. The lot
can also read its notices after a cursor, for those it missed.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from core import network, network_keys
from core.clock import Clock
from core.network_signing import (
    HEADER_APP_ID,
    HEADER_KEY_ID,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    sign,
)
from core.payments import Payment
from core.services.retrying import Uows
from core.store.activity import StayRow
from core.store.network import NetworkOutboxRow
from core.store.unit_of_work import UnitOfWork

if TYPE_CHECKING:  # network_intake refunds through core.services.payments, which imports this
    from core.services.network_intake import Caller

log = logging.getLogger(__name__)

PAYMENT_SUCCEEDED = "payment.succeeded"
LEASE = timedelta(seconds=60)  # a claimed notice is not sent twice at once by two workers


class WebhookSender(Protocol):
    """Posts a signed body to a lot's system; the HTTP status, or an exception when unreachable."""

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> int:
        """Send once."""
        ...


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice as the lot reads it."""

    id: int
    event_id: str
    kind: str
    body: dict[str, Any]
    created_at: datetime
    delivered_at: datetime | None
    attempts: int


async def payment_taken(uow: UnitOfWork, clock: Clock, stay: StayRow, payment: Payment) -> bool:
    """Queue the notice of a settled payment when the stay is a networked lot's; in the caller's
    unit of work (it commits). True when a notice was queued."""
    if stay.lot_id is None:
        return False
    record = await uow.network.by_lot_id(stay.lot_id)
    session = await uow.network.session_of_stay(stay.id)
    if record is None or session is None:
        return False
    now = clock.now()
    paid_at = payment.paid_at or now
    body = {
        "event_id": f"pay-{payment.out_trade_no}",
        "type": PAYMENT_SUCCEEDED,
        "app_id": record.app_id,
        "session_id": session.session_id,
        "stay_ref": stay.ref,
        "plate": stay.plate,
        "out_trade_no": payment.out_trade_no,
        "sub_mchid": payment.sub_mchid,
        "amount_fen": payment.amount_fen,
        "paid_at": paid_at.isoformat(),
    }
    uow.network.add(
        NetworkOutboxRow(
            network_lot_id=record.id,
            event_id=body["event_id"],
            kind=PAYMENT_SUCCEEDED,
            body=body,
            created_at=now,
            attempts=0,
            next_attempt_at=now,
        )
    )
    return True


def signed_headers(
    app_id: str, key_id: str, key: str, url: str, body: bytes, now: datetime
) -> dict[str, str]:
    """The headers of a webhook signed with a lot's key."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    timestamp, nonce = str(int(now.timestamp())), secrets.token_hex(12)
    return {
        "Content-Type": "application/json",
        HEADER_APP_ID: app_id,
        HEADER_KEY_ID: key_id,
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: sign(key, "POST", path, timestamp, nonce, body),
    }


async def deliver_due(
    uows: Uows, clock: Clock, secret: str, sender: WebhookSender, *, limit: int = 50
) -> int:
    """Send the notices that are due; how many were delivered."""
    async with uows() as uow:
        now = clock.now()
        due = await uow.network.due_notices(now, limit)
        for row in due:
            row.next_attempt_at = now + LEASE
        await uow.commit()
        claimed = [(row.id, row.network_lot_id) for row in due]
    delivered = 0
    for notice_id, lot_id in claimed:
        delivered += await _deliver_one(uows, clock, secret, sender, notice_id, lot_id)
    return delivered


async def _deliver_one(
    uows: Uows, clock: Clock, secret: str, sender: WebhookSender, notice_id: int, lot_id: int
) -> int:
    async with uows() as uow:
        row = await uow.network.notice(notice_id)
        record = await uow.network.by_id(lot_id)
        now = clock.now()
        keys = await uow.network.keys(record.id)
        live = [k for k in keys if network_keys.is_live(k.expires_at, now)]
        body = json.dumps(row.body, ensure_ascii=False, sort_keys=True).encode()
        url, app_id = record.webhook_url, record.app_id
        headers: dict[str, str] = {}
        if url and live:
            key = network_keys.unseal(secret, live[0].sealed, app_id, live[0].key_id)
            headers = signed_headers(app_id, live[0].key_id, key, url, body, now)
    error = "no webhook url or no live key"
    if url and headers:
        try:
            status = await sender.post(url, headers, body)
            error = "" if 200 <= status < 300 else f"HTTP {status}"
        except Exception as exc:  # an unreachable lot is retried like a refusal
            error = f"{type(exc).__name__}: {exc}"[:256]
    async with uows() as uow:
        row = await uow.network.notice(notice_id)
        now = clock.now()
        row.attempts += 1
        if not error:
            row.delivered_at, row.last_error = now, None
        else:
            row.last_error = error
            later = network.next_attempt(row.attempts, now)
            if later is None:
                log.warning("notice %s to lot %s given up: %s", row.event_id, lot_id, error)
            row.next_attempt_at = later or now + timedelta(days=3650)
        await uow.commit()
    return 0 if error else 1


async def notices_after(uow: UnitOfWork, caller: Caller, after_id: int, limit: int) -> list[Notice]:
    """The lot's notices after a cursor, oldest first."""
    return [
        Notice(r.id, r.event_id, r.kind, r.body, r.created_at, r.delivered_at, r.attempts)
        for r in await uow.network.notices_after(caller.record.id, after_id, limit)
    ]
