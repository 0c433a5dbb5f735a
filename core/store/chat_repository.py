"""Official Account followers, handoff requests and what a driver may invoice; never commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.store.chat import ChatHandoffRow, ChatMessageRow, ChatUserRow
from core.store.city import ZoneRow
from core.store.payments import PaymentRow

INVOICEABLE = ("paid", "partially_refunded")


class ChatRepository:
    """Rows of the chat tables."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def user(
        self, appid: str, openid: str, *, for_update: bool = False
    ) -> ChatUserRow | None:
        """The chat user of an openid."""
        query = select(ChatUserRow).where(ChatUserRow.appid == appid, ChatUserRow.openid == openid)
        if for_update:
            query = query.with_for_update()
        row: ChatUserRow | None = await self._session.scalar(query)
        return row

    async def add_user(self, row: ChatUserRow) -> None:
        """Record a chat user; its id is set on return."""
        self._session.add(row)
        await self._session.flush()

    async def add_handoff(self, row: ChatHandoffRow) -> None:
        """Record a request for a human; its id is set on return."""
        self._session.add(row)
        await self._session.flush()

    async def add_message(self, row: ChatMessageRow) -> None:
        """Record a message of a conversation."""
        self._session.add(row)
        await self._session.flush()

    async def open_handoff(self, appid: str, openid: str) -> ChatHandoffRow | None:
        """The request of this user still waiting for an agent."""
        query = (
            select(ChatHandoffRow)
            .where(
                ChatHandoffRow.appid == appid,
                ChatHandoffRow.openid == openid,
                ChatHandoffRow.status != "closed",
            )
            .order_by(ChatHandoffRow.id.desc())
            .limit(1)
        )
        row: ChatHandoffRow | None = await self._session.scalar(query)
        return row

    async def handoffs(self, status: str = "open", limit: int = 100) -> list[ChatHandoffRow]:
        """Requests in one status, oldest first (the support console's queue)."""
        query = (
            select(ChatHandoffRow)
            .where(ChatHandoffRow.status == status)
            .order_by(ChatHandoffRow.id)
            .limit(limit)
        )
        return list(await self._session.scalars(query))

    async def paid_payments(self, driver_id: int, limit: int = 10) -> list[PaymentRow]:
        """The driver's settled payments, newest first."""
        query = (
            select(PaymentRow)
            .where(PaymentRow.driver_id == driver_id, PaymentRow.status.in_(INVOICEABLE))
            .order_by(PaymentRow.id.desc())
            .limit(limit)
        )
        return list(await self._session.scalars(query))

    async def zones(self) -> list[tuple[str, str, str]]:
        """Every zone's code, name and tariff (the bot's gazetteer names them)."""
        query = select(ZoneRow.code, ZoneRow.name, ZoneRow.tariff_code).order_by(ZoneRow.code)
        return [(c, n, t) for c, n, t in await self._session.execute(query)]
