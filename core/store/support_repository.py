"""Conversations held by support agents, their messages and what the panel shows; never commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.store.chat import ChatHandoffRow, ChatMessageRow, ChatUserRow
from core.store.devices import NotificationRow
from core.store.driver_notices import SubscribeGrantRow
from core.store.payments import PaymentRow, RefundRow
from core.store.people import DriverRow


class SupportRepository:
    """Rows of the support console."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def handoff(self, handoff_id: int, *, for_update: bool = False) -> ChatHandoffRow | None:
        """One conversation."""
        query = select(ChatHandoffRow).where(ChatHandoffRow.id == handoff_id)
        if for_update:
            query = query.with_for_update()
        row: ChatHandoffRow | None = await self._session.scalar(query)
        return row

    async def _changed(self, statement: Any) -> bool:
        result: CursorResult[Any] = await self._session.execute(statement)  # type: ignore[assignment]
        return result.rowcount == 1

    async def claim(self, handoff_id: int, agent: str, now: datetime) -> bool:
        """Take a waiting conversation; False when another agent took it first."""
        statement = (
            update(ChatHandoffRow)
            .where(ChatHandoffRow.id == handoff_id, ChatHandoffRow.status == "open")
            .values(status="taken", taken_by=agent, claimed_at=now, last_activity_at=now)
            .execution_options(synchronize_session=False)
        )
        return await self._changed(statement)

    async def reassign(self, handoff_id: int, holder: str, agent: str, now: datetime) -> bool:
        """Pass a held conversation on; False when `holder` no longer holds it."""
        statement = (
            update(ChatHandoffRow)
            .where(
                ChatHandoffRow.id == handoff_id,
                ChatHandoffRow.status == "taken",
                ChatHandoffRow.taken_by == holder,
            )
            .values(taken_by=agent, last_activity_at=now)
            .execution_options(synchronize_session=False)
        )
        return await self._changed(statement)

    async def queue(self, limit: int) -> list[ChatHandoffRow]:
        """Waiting conversations, oldest first."""
        query = (
            select(ChatHandoffRow)
            .where(ChatHandoffRow.status == "open")
            .order_by(ChatHandoffRow.created_at, ChatHandoffRow.id)
            .limit(limit)
        )
        return list(await self._session.scalars(query))

    async def position(self, row: ChatHandoffRow) -> int:
        """Place in the queue (1 is next)."""
        query = select(func.count()).where(
            ChatHandoffRow.status == "open", ChatHandoffRow.id <= row.id
        )
        return int(await self._session.scalar(query) or 0)

    async def held_by(self, agent: str) -> list[ChatHandoffRow]:
        """Conversations one agent holds now."""
        query = (
            select(ChatHandoffRow)
            .where(ChatHandoffRow.status == "taken", ChatHandoffRow.taken_by == agent)
            .order_by(ChatHandoffRow.id)
        )
        return list(await self._session.scalars(query))

    async def idle(self, before: datetime, limit: int = 100) -> list[ChatHandoffRow]:
        """Held conversations with no message since `before`."""
        query = (
            select(ChatHandoffRow)
            .where(ChatHandoffRow.status == "taken", ChatHandoffRow.last_activity_at <= before)
            .order_by(ChatHandoffRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(await self._session.scalars(query))

    async def awaiting_rating(
        self, appid: str, openid: str, since: datetime
    ) -> ChatHandoffRow | None:
        """The user's conversation closed since `since` and not rated yet."""
        query = (
            select(ChatHandoffRow)
            .where(
                ChatHandoffRow.appid == appid,
                ChatHandoffRow.openid == openid,
                ChatHandoffRow.outcome == "closed",
                ChatHandoffRow.rating.is_(None),
                ChatHandoffRow.closed_at >= since,
            )
            .order_by(ChatHandoffRow.id.desc())
            .limit(1)
        )
        row: ChatHandoffRow | None = await self._session.scalar(query)
        return row

    async def add_message(self, row: ChatMessageRow) -> None:
        """Record a message; its id is set on return."""
        self._session.add(row)
        await self._session.flush()

    async def messages(self, handoff_id: int, limit: int = 500) -> list[ChatMessageRow]:
        """A conversation's messages, oldest first."""
        query = (
            select(ChatMessageRow)
            .where(ChatMessageRow.handoff_id == handoff_id)
            .order_by(ChatMessageRow.id)
            .limit(limit)
        )
        return list(await self._session.scalars(query))

    async def last_messages(
        self, handoff_ids: list[int], per: int
    ) -> dict[int, list[ChatMessageRow]]:
        """The newest `per` messages of each conversation, oldest first."""
        if not handoff_ids:
            return {}
        query = (
            select(ChatMessageRow)
            .where(ChatMessageRow.handoff_id.in_(handoff_ids))
            .order_by(ChatMessageRow.id.desc())
        )
        found: dict[int, list[ChatMessageRow]] = {i: [] for i in handoff_ids}
        for row in await self._session.scalars(query):
            if len(found[row.handoff_id]) < per:
                found[row.handoff_id].insert(0, row)
        return found

    async def claimed_between(self, start: datetime, end: datetime) -> list[ChatHandoffRow]:
        """Conversations claimed in a period (the metrics' day)."""
        query = select(ChatHandoffRow).where(
            ChatHandoffRow.claimed_at >= start, ChatHandoffRow.claimed_at < end
        )
        return list(await self._session.scalars(query))

    async def chat_user(self, appid: str, openid: str) -> ChatUserRow | None:
        """The follower of a conversation."""
        query = select(ChatUserRow).where(ChatUserRow.appid == appid, ChatUserRow.openid == openid)
        row: ChatUserRow | None = await self._session.scalar(query)
        return row

    async def driver(self, driver_id: int) -> DriverRow | None:
        """The driver of a conversation."""
        row: DriverRow | None = await self._session.get(DriverRow, driver_id)
        return row

    async def grants(self, driver_id: int) -> int:
        """Subscribe-message authorisations the driver has left."""
        query = select(func.count()).where(
            SubscribeGrantRow.driver_id == driver_id, SubscribeGrantRow.remaining > 0
        )
        return int(await self._session.scalar(query) or 0)

    async def payments(self, driver_id: int, limit: int) -> list[PaymentRow]:
        """The driver's payments, newest first."""
        query = (
            select(PaymentRow)
            .where(PaymentRow.driver_id == driver_id)
            .order_by(PaymentRow.id.desc())
            .limit(limit)
        )
        return list(await self._session.scalars(query))

    async def refunds(self, driver_id: int, limit: int) -> list[RefundRow]:
        """Refunds of the driver's payments, newest first."""
        query = (
            select(RefundRow)
            .join(PaymentRow, PaymentRow.out_trade_no == RefundRow.out_trade_no)
            .where(PaymentRow.driver_id == driver_id)
            .order_by(RefundRow.id.desc())
            .limit(limit)
        )
        return list(await self._session.scalars(query))

    async def notices(self, driver_id: int, limit: int) -> list[NotificationRow]:
        """Notifications queued or sent to the driver, newest first."""
        query = (
            select(NotificationRow)
            .where(NotificationRow.driver_id == driver_id)
            .order_by(NotificationRow.id.desc())
            .limit(limit)
        )
        return list(await self._session.scalars(query))
