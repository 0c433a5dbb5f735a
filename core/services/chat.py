"""Use cases of the Official Account chat: who is writing, follows, handoffs, sending later."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from core.chat import (
    CustomerServiceSender,
    HandoffReason,
    OfficialAccountDirectory,
    OutsideWindowError,
    within_window,
)
from core.clock import Clock
from core.drivers import WeChatUnavailableError
from core.services.drivers import find_or_create_driver
from core.store.chat import ChatHandoffRow, ChatMessageRow, ChatUserRow
from core.store.unit_of_work import StoreConflictError, UnitOfWork

log = logging.getLogger(__name__)
MESSAGE_KEPT = 500


@dataclass(frozen=True, slots=True)
class ChatIdentity:
    """The follower writing, and the driver (shared with the mini-program) when known."""

    appid: str
    openid: str
    driver_id: int | None


async def identify(
    uow: UnitOfWork,
    clock: Clock,
    appid: str,
    directory: OfficialAccountDirectory | None,
    openid: str,
    *,
    wrote: bool,
) -> ChatIdentity:
    """Find the chat user (asking WeChat for the unionid once) and note when they wrote."""
    user = await uow.chat.user(appid, openid)
    if user is None:
        user = ChatUserRow(
            appid=appid, openid=openid, subscribed=True, subscribed_at=None, driver_id=None
        )
        await uow.chat.add_user(user)
    if user.driver_id is None and directory is not None:
        user.driver_id = await _link(uow, clock, appid, directory, openid)
    if wrote:
        user.last_message_at = clock.now()
    try:
        await uow.commit()
    except StoreConflictError:  # the same follower's two messages at once: the other won
        await uow.rollback()
        found = await uow.chat.user(appid, openid)
        return ChatIdentity(appid, openid, found.driver_id if found else None)
    return ChatIdentity(appid, openid, user.driver_id)


async def _link(
    uow: UnitOfWork, clock: Clock, appid: str, directory: OfficialAccountDirectory, openid: str
) -> int | None:
    """The driver of this openid: by the openid, else by the unionid the user-info API gives."""
    driver = await uow.drivers.by_openid(appid, openid)
    if driver is not None:
        return driver.id
    try:
        info = await directory.user_info(openid)
    except WeChatUnavailableError as exc:
        # Answer without the driver's plates now; the next message tries again.
        log.warning("user info of a follower unavailable: %s", exc.detail)
        return None
    driver, _ = await find_or_create_driver(uow, clock, appid, openid, info.unionid)
    return driver.id


async def follow(uow: UnitOfWork, clock: Clock, identity: ChatIdentity, following: bool) -> None:
    """Record a subscribe or unsubscribe event (an unfollower gets no chat messages)."""
    user = await uow.chat.user(identity.appid, identity.openid, for_update=True)
    if user is None:
        return
    user.subscribed = following
    if following:
        user.subscribed_at = clock.now()
    else:
        user.unsubscribed_at = clock.now()
    await uow.commit()


async def request_handoff(
    uow: UnitOfWork,
    clock: Clock,
    identity: ChatIdentity,
    reason: HandoffReason,
    message: str,
    earlier: Sequence[str] = (),
) -> tuple[ChatHandoffRow, bool]:
    """Record that the driver wants a person, with what they wrote just before; not doubled."""
    found = await uow.chat.open_handoff(identity.appid, identity.openid)
    if found is not None:
        return found, False
    row = ChatHandoffRow(
        appid=identity.appid,
        openid=identity.openid,
        driver_id=identity.driver_id,
        reason=reason.value,
        message=message[:MESSAGE_KEPT],
        status="open",
        created_at=clock.now(),
    )
    await uow.chat.add_handoff(row)
    for text in (*earlier, row.message):
        await uow.chat.add_message(
            ChatMessageRow(
                handoff_id=row.id,
                sender="driver",
                kind="text",
                body=text,
                created_at=row.created_at,
            )
        )
    await uow.commit()
    log.info("chat handoff %s requested (%s)", row.id, reason.value)
    return row, True


async def send_later(
    uow: UnitOfWork,
    clock: Clock,
    sender: CustomerServiceSender,
    identity: ChatIdentity,
    text: str,
) -> None:
    """A customer-service message, only to a follower who wrote within the last 48 hours."""
    user = await uow.chat.user(identity.appid, identity.openid)
    if user is None or not user.subscribed or not within_window(user.last_message_at, clock.now()):
        raise OutsideWindowError(detail="no message from the user in 48 h, or unfollowed")
    await sender.send_text(identity.openid, text)
