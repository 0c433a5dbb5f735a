"""Networked lots: what their systems push, when a lot counts as silent, how notices are retried.

Field names follow what lot systems already speak: a session (APDS) is PP/Bolink's `order_id`
of one car's stay, free spaces are PP's `RemainingSpaces`, and so on (docs/networking.md).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

SILENT_AFTER = timedelta(minutes=15)
HEARD_STEP = timedelta(seconds=30)
# A count older than this is shown but no longer trusted as live (the bot says how old it is).
STALE_COUNT_AFTER = timedelta(minutes=5)
WEBHOOK_BACKOFF_SECONDS = (5, 15, 60, 300, 900, 3600)
WEBHOOK_MAX_ATTEMPTS = 20


class MessageKind(StrEnum):
    """What a lot's system pushes."""

    ENTRY = "entry"
    EXIT = "exit"
    PAYMENT = "payment"
    COUNT = "count"
    FAULT = "fault"
    SUMMARY = "summary"


@dataclass(frozen=True, slots=True)
class Entry:
    """A car entered the lot."""

    session_id: str
    plate: str
    entered_at: datetime
    lane: str | None = None
    vehicle_class: str = "small"


@dataclass(frozen=True, slots=True)
class Exit:
    """A car left: the fee the lot charged and what it took on site."""

    session_id: str
    plate: str
    entered_at: datetime
    exited_at: datetime
    fee_fen: int
    paid_fen: int
    lane: str | None = None
    vehicle_class: str = "small"


@dataclass(frozen=True, slots=True)
class SitePayment:
    """Money taken on site for a session, or for a city arrears stay collected at the exit."""

    amount_fen: int
    channel: str
    paid_at: datetime
    session_id: str | None = None
    stay_ref: str | None = None


@dataclass(frozen=True, slots=True)
class FreeCount:
    """The lot's live count of free spaces."""

    total_spaces: int
    free_spaces: int
    counted_at: datetime


@dataclass(frozen=True, slots=True)
class Fault:
    """A lane or device went faulty, or recovered."""

    device: str
    state: str
    at: datetime
    lane: str | None = None
    fault_code: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class DailySummary:
    """The lot's own totals for a day."""

    day: date
    entries: int
    exits: int
    fee_fen: int
    paid_fen: int


Message = Entry | Exit | SitePayment | FreeCount | Fault | DailySummary


def digest(message: Message) -> str:
    """A stable hash of a message's content: the same id with another body is refused."""
    text = json.dumps(asdict(message), sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def as_record(message: Message) -> dict[str, Any]:
    """A JSON-ready copy of a message, kept as received."""
    record: dict[str, Any] = json.loads(json.dumps(asdict(message), default=str))
    return record


def is_silent(last_seen_at: datetime | None, registered_at: datetime, now: datetime) -> bool:
    """A lot is silent when nothing came for SILENT_AFTER (since registration if never)."""
    return now - (last_seen_at or registered_at) > SILENT_AFTER


def heard_again(
    last_seen_at: datetime | None, silent_since: datetime | None, now: datetime
) -> bool:
    """Whether a request should move the lot's last contact (at most every HEARD_STEP, since
    silence is judged in minutes and a write per request would cost every push)."""
    return silent_since is not None or last_seen_at is None or now - last_seen_at >= HEARD_STEP


def count_age_seconds(counted_at: datetime | None, now: datetime) -> int | None:
    """How old a pushed count is, in whole seconds (never negative)."""
    if counted_at is None:
        return None
    return max(0, int((now - counted_at).total_seconds()))


def newer_count(stored_at: datetime | None, incoming_at: datetime) -> bool:
    """Whether a pushed count replaces the stored one (counts arriving late are ignored)."""
    return stored_at is None or incoming_at > stored_at


def next_attempt(attempts: int, now: datetime) -> datetime | None:
    """When to resend a notice after `attempts` failures; None once it is given up."""
    if attempts >= WEBHOOK_MAX_ATTEMPTS:
        return None
    step = WEBHOOK_BACKOFF_SECONDS[min(attempts, len(WEBHOOK_BACKOFF_SECONDS)) - 1]
    return now + timedelta(seconds=step)
