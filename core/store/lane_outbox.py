"""Lane commands that could not reach the broker, kept until it returns or they are too old."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, String, Text, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.lanes import CommandKind, LaneCommand
from core.store.base import Base


class LaneOutboxRow(Base):
    """One command waiting for the broker; claimed by one worker at a time while it sends."""

    __tablename__ = "lane_outbox"
    __table_args__ = (Index("ix_lane_outbox_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lane: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    pay_url: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime]
    claim: Mapped[str | None] = mapped_column(String(32))
    claimed_until: Mapped[datetime | None]

    def command(self) -> LaneCommand:
        """The command as the publisher sends it."""
        return LaneCommand(self.lane, CommandKind(self.kind), self.text, self.pay_url)


class LaneOutboxRepository:
    """The outbox rows; the caller's unit of work commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, commands: list[LaneCommand], now: datetime) -> None:
        """Keep commands, in their order."""
        self._session.add_all(
            LaneOutboxRow(
                lane=c.lane, kind=c.kind.value, text=c.text, pay_url=c.pay_url, created_at=now
            )
            for c in commands
        )

    async def void_before(self, moment: datetime) -> int:
        """Drop commands kept since before `moment`: carried out now, they would mislead."""
        result = await self._session.execute(
            delete(LaneOutboxRow).where(LaneOutboxRow.created_at < moment)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def claim(self, now: datetime, until: datetime, limit: int) -> list[LaneOutboxRow]:
        """Claim up to `limit` of the oldest unclaimed commands (or those whose claim lapsed)."""
        token = uuid.uuid4().hex
        free = or_(LaneOutboxRow.claimed_until.is_(None), LaneOutboxRow.claimed_until < now)
        oldest = select(LaneOutboxRow.id).where(free).order_by(LaneOutboxRow.id).limit(limit)
        ids = list((await self._session.scalars(oldest)).all())
        if not ids:
            return []
        await self._session.execute(
            update(LaneOutboxRow)
            .where(LaneOutboxRow.id.in_(ids), free)  # another worker may have claimed some
            .values(claim=token, claimed_until=until)
        )
        mine = select(LaneOutboxRow).where(LaneOutboxRow.claim == token).order_by(LaneOutboxRow.id)
        return list((await self._session.scalars(mine)).all())

    async def remove(self, ids: list[int]) -> None:
        """Forget delivered commands."""
        if ids:
            await self._session.execute(delete(LaneOutboxRow).where(LaneOutboxRow.id.in_(ids)))

    async def release(self, ids: list[int]) -> None:
        """Give undelivered commands back for the next attempt."""
        if ids:
            await self._session.execute(
                update(LaneOutboxRow)
                .where(LaneOutboxRow.id.in_(ids))
                .values(claim=None, claimed_until=None)
            )

    async def count(self) -> int:
        """Commands waiting."""
        return int(await self._session.scalar(select(func.count(LaneOutboxRow.id))) or 0)
