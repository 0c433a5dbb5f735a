"""Use cases of the support chat: the driver's side (held, stored, rated) and the agent's."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.chat import within_window
from core.clock import Clock
from core.errors import DomainError
from core.services.chat import ChatIdentity
from core.staff import Permission, Role, StaffIdentity, grants
from core.store.chat import ChatHandoffRow, ChatMessageRow
from core.store.unit_of_work import UnitOfWork
from core.support import (
    CANNED,
    HANDED_BACK,
    IDLE_BACK,
    RATING_QUESTION,
    RATING_THANKS,
    RATING_WINDOW,
    AlreadyClaimedError,
    CloseCategory,
    ConversationNotFoundError,
    ConversationOverError,
    MessageKind,
    NotHoldingError,
    Outcome,
    OutsideWindowOfferError,
    Status,
    SupportPorts,
    SupportUnavailableError,
    UnknownAgentError,
    UnknownCannedError,
    outside_window_message,
    parse_rating,
)

log = logging.getLogger(__name__)
BODY_KEPT = 2048


@dataclass(frozen=True, slots=True)
class Intercepted:
    """What the support chat made of a driver's message before the bot reads it."""

    handled: bool  # True: the bot does not answer
    reply: str | None = None  # what to answer instead (None: silence)
    note: str | None = None  # a line to put before the bot's own answer


def message_event(kind: str, row: ChatHandoffRow, **extra: Any) -> dict[str, Any]:
    """A live update about one conversation."""
    return {"type": kind, "conversation": row.id, "status": row.status, **extra}


async def _publish(ports: SupportPorts, event: dict[str, Any]) -> None:
    try:
        await ports.events.publish(event)
    except Exception:  # a console misses an update; the request itself succeeded
        log.exception("support event %s not published", event.get("type"))


async def add_message(
    uow: UnitOfWork,
    row: ChatHandoffRow,
    sender: str,
    kind: str,
    body: str,
    at: datetime,
    author: str | None = None,
) -> ChatMessageRow:
    """Record one message of a conversation."""
    message = ChatMessageRow(
        handoff_id=row.id,
        sender=sender,
        author=author,
        kind=kind,
        body=body[:BODY_KEPT],
        created_at=at,
    )
    await uow.support.add_message(message)
    return message


def message_out(message: ChatMessageRow) -> dict[str, Any]:
    """The wire form of a message inside a live update."""
    return {
        "id": message.id,
        "sender": message.sender,
        "author": message.author,
        "kind": message.kind,
        "body": message.body,
        "at": message.created_at.isoformat(),
    }


async def queued(ports: SupportPorts, row: ChatHandoffRow) -> None:
    """Tell the consoles a conversation joined the queue."""
    await _publish(ports, message_event("queued", row, reason=row.reason))


async def driver_wrote(
    uow: UnitOfWork,
    clock: Clock,
    ports: SupportPorts,
    identity: ChatIdentity,
    kind: str,
    text: str,
) -> Intercepted:
    """Store a message for the agent (held: the bot stays silent), or take a rating."""
    now = clock.now()
    row = await uow.chat.open_handoff(identity.appid, identity.openid)
    note = None
    if row is not None and row.status == Status.TAKEN and _idle(row, now, ports):
        await _end(uow, row, Outcome.IDLE, now)
        await uow.commit()
        await _publish(ports, message_event("ended", row, outcome=Outcome.IDLE.value))
        row, note = None, IDLE_BACK
    if row is not None:
        message = await add_message(uow, row, "driver", kind, text, now)
        if row.status == Status.TAKEN:
            row.last_activity_at = now
        await uow.commit()
        await _publish(ports, message_event("message", row, message=message_out(message)))
        return Intercepted(handled=row.status == Status.TAKEN)
    rating = parse_rating(text) if kind == "text" else None
    if rating is not None:
        rated = await uow.support.awaiting_rating(
            identity.appid, identity.openid, now - RATING_WINDOW
        )
        if rated is not None:
            rated.rating, rated.rated_at = rating, now
            await uow.commit()
            await _publish(ports, message_event("rated", rated, rating=rating))
            return Intercepted(handled=True, reply=RATING_THANKS)
    return Intercepted(handled=False, note=note)


def _idle(row: ChatHandoffRow, now: datetime, ports: SupportPorts) -> bool:
    last = row.last_activity_at or row.claimed_at or row.created_at
    return now - last >= ports.idle_after


async def _end(uow: UnitOfWork, row: ChatHandoffRow, outcome: Outcome, now: datetime) -> None:
    row.status, row.outcome, row.closed_at = Status.CLOSED.value, outcome.value, now
    await add_message(uow, row, "system", "text", f"会话结束：{outcome.value}", now)


async def _held(uow: UnitOfWork, staff: StaffIdentity, handoff_id: int) -> ChatHandoffRow:
    row = await uow.support.handoff(handoff_id, for_update=True)
    if row is None:
        raise ConversationNotFoundError(detail=f"handoff {handoff_id}")
    if row.status != Status.TAKEN:
        raise ConversationOverError(detail=f"handoff {handoff_id} is {row.status}")
    if row.taken_by != staff.username:
        raise NotHoldingError(detail=f"handoff {handoff_id} is held by another agent")
    return row


async def conversation(uow: UnitOfWork, handoff_id: int) -> ChatHandoffRow:
    """One conversation, or a 404."""
    row = await uow.support.handoff(handoff_id)
    if row is None:
        raise ConversationNotFoundError(detail=f"handoff {handoff_id}")
    return row


async def claim(
    uow: UnitOfWork, clock: Clock, ports: SupportPorts, staff: StaffIdentity, handoff_id: int
) -> ChatHandoffRow:
    """Take a waiting conversation: of two agents at once one wins, the other gets a 409."""
    if not await uow.support.claim(handoff_id, staff.username, clock.now()):
        await conversation(uow, handoff_id)
        raise AlreadyClaimedError(detail=f"handoff {handoff_id} not waiting")
    await uow.commit()
    row = await conversation(uow, handoff_id)
    await uow.session.refresh(row)
    await _publish(ports, message_event("claimed", row, agent=staff.username))
    return row


async def transfer(
    uow: UnitOfWork,
    clock: Clock,
    ports: SupportPorts,
    staff: StaffIdentity,
    handoff_id: int,
    to: str,
) -> ChatHandoffRow:
    """Pass a held conversation to another agent (the holder, or an administrator)."""
    row = await conversation(uow, handoff_id)
    if row.status != Status.TAKEN or row.taken_by is None:
        raise ConversationOverError(detail=f"handoff {handoff_id} is {row.status}")
    if row.taken_by != staff.username and staff.role is not Role.ADMIN:
        raise NotHoldingError(detail=f"handoff {handoff_id} is held by another agent")
    target = await uow.staff.by_username(to)
    if (
        target is None
        or not target.active
        or not grants(Role(target.role), Permission.CHAT_TAKEOVER)
    ):
        raise UnknownAgentError(detail=f"{to} cannot take conversations")
    now = clock.now()
    if not await uow.support.reassign(handoff_id, row.taken_by, to, now):
        raise AlreadyClaimedError(detail=f"handoff {handoff_id} changed hands meanwhile")
    await add_message(uow, row, "system", "text", f"{staff.username} 转接给 {to}", now)
    await uow.commit()
    await uow.session.refresh(row)
    await _publish(ports, message_event("transferred", row, agent=to, by=staff.username))
    return row


async def _deliverable(uow: UnitOfWork, clock: Clock, row: ChatHandoffRow) -> None:
    """Raise the 409 offering a subscribe message or SMS when the 48 hours are over."""
    user = await uow.support.chat_user(row.appid, row.openid)
    if user is not None and user.subscribed and within_window(user.last_message_at, clock.now()):
        return
    subscribe = sms = False
    if row.driver_id is not None:
        subscribe = await uow.support.grants(row.driver_id) > 0
        driver = await uow.support.driver(row.driver_id)
        sms = driver is not None and bool(driver.phone)
    raise OutsideWindowOfferError(
        outside_window_message(subscribe, sms), detail="no message from the user in 48 h"
    )


@dataclass(frozen=True, slots=True)
class AgentMessage:
    """What an agent sends: a text, a canned reply by name, or a mini-program page."""

    kind: MessageKind
    text: str | None = None
    canned: str | None = None
    title: str | None = None
    page: str | None = None


async def send(
    uow: UnitOfWork,
    clock: Clock,
    ports: SupportPorts,
    staff: StaffIdentity,
    handoff_id: int,
    outgoing: AgentMessage,
) -> ChatMessageRow:
    """Send the driver a customer-service message, only inside WeChat's 48 hours."""
    row = await _held(uow, staff, handoff_id)
    body = outgoing.text or ""
    if outgoing.kind is MessageKind.CANNED:
        if outgoing.canned not in CANNED:
            raise UnknownCannedError(detail=str(outgoing.canned))
        body = CANNED[outgoing.canned]
    await _deliverable(uow, clock, row)
    if ports.sender is None:
        raise SupportUnavailableError(detail="no official account client")
    if outgoing.kind is MessageKind.MINIPROGRAM:
        title, page = outgoing.title or "城市停车", outgoing.page or "pages/index/index"
        await ports.sender.send_miniprogram_page(
            row.openid, title, ports.miniprogram_appid or "", page
        )
        body = f"{title} ({page})"
    else:
        await ports.sender.send_text(row.openid, body)
    now = clock.now()
    message = await add_message(uow, row, "agent", outgoing.kind.value, body, now, staff.username)
    row.first_response_at = row.first_response_at or now
    row.last_activity_at = now
    await uow.commit()
    await _publish(ports, message_event("message", row, message=message_out(message)))
    return message


async def _tell(
    uow: UnitOfWork, clock: Clock, ports: SupportPorts, row: ChatHandoffRow, text: str
) -> bool:
    """A customer-service message after the fact; False when it could not go."""
    try:
        await _deliverable(uow, clock, row)
        if ports.sender is None:
            return False
        await ports.sender.send_text(row.openid, text)
    except DomainError as exc:
        log.info("support message to the driver of %s not sent: %s", row.id, exc.code)
        return False
    return True


async def close(
    uow: UnitOfWork,
    clock: Clock,
    ports: SupportPorts,
    staff: StaffIdentity,
    handoff_id: int,
    category: CloseCategory,
    resolution: str,
) -> ChatHandoffRow:
    """End a conversation with a category and a resolution; the bot asks for a rating."""
    row = await _held(uow, staff, handoff_id)
    row.category, row.resolution = category.value, resolution
    await _end(uow, row, Outcome.CLOSED, clock.now())
    await uow.commit()
    await _tell(uow, clock, ports, row, RATING_QUESTION)
    await _publish(ports, message_event("ended", row, outcome=Outcome.CLOSED.value))
    return row


async def hand_back(
    uow: UnitOfWork, clock: Clock, ports: SupportPorts, staff: StaffIdentity, handoff_id: int
) -> ChatHandoffRow:
    """Give the conversation back to the bot and tell the driver."""
    row = await _held(uow, staff, handoff_id)
    await _end(uow, row, Outcome.HANDED_BACK, clock.now())
    await uow.commit()
    await _tell(uow, clock, ports, row, HANDED_BACK)
    await _publish(ports, message_event("ended", row, outcome=Outcome.HANDED_BACK.value))
    return row


async def return_idle(uow: UnitOfWork, clock: Clock, ports: SupportPorts) -> int:
    """The sweep: held conversations idle for the configured time go back to the bot."""
    now = clock.now()
    rows = await uow.support.idle(now - ports.idle_after)
    for row in rows:
        await _end(uow, row, Outcome.IDLE, now)
    await uow.commit()
    for row in rows:
        await _tell(uow, clock, ports, row, IDLE_BACK)
        await _publish(ports, message_event("ended", row, outcome=Outcome.IDLE.value))
    return len(rows)
