"""Tables and repository of hand-over batches to the traffic police; no commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.handovers import BatchStatus, HandoverBatch, HandoverLine
from core.store.base import Base, JSONDocument
from core.store.conflicts import StoreConflictError
from core.store.people import VehicleRow


class HandoverBatchRow(Base):
    """A batch of escalated arrears; handed over once, with the receiving side's receipt."""

    __tablename__ = "handover_batches"
    __table_args__ = (CheckConstraint("status IN ('draft', 'handed_over')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(12))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    handed_over_by: Mapped[str | None] = mapped_column(String(64))
    handed_over_at: Mapped[datetime | None]
    receipt: Mapped[str | None] = mapped_column(String(64))


class HandoverLineRow(Base):
    """One stay of a batch, as it stood when the batch was made; a stay is in one batch."""

    __tablename__ = "handover_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("handover_batches.id"), index=True)
    stay_id: Mapped[int] = mapped_column(ForeignKey("stays.id"), unique=True)
    stay_ref: Mapped[str] = mapped_column(String(32))
    plate: Mapped[str] = mapped_column(String(16))
    colour: Mapped[str] = mapped_column(String(10))
    place: Mapped[str] = mapped_column(String(256))
    entered_at: Mapped[datetime]
    exited_at: Mapped[datetime]
    evidence: Mapped[list[str]] = mapped_column(JSONDocument)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    notice_served_at: Mapped[datetime | None]


class HandoverRepository:
    """Batches with their lines."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, batch: HandoverBatchRow, lines: list[HandoverLine], stay_ids: list[int]
    ) -> None:
        """Store a batch and its lines."""
        self._session.add(batch)
        await self._session.flush()
        for stay_id, line in zip(stay_ids, lines, strict=True):
            self._session.add(
                HandoverLineRow(
                    batch_id=batch.id,
                    stay_id=stay_id,
                    stay_ref=line.stay_ref,
                    plate=line.plate,
                    colour=line.colour,
                    place=line.place,
                    entered_at=line.entered_at,
                    exited_at=line.exited_at,
                    evidence=list(line.evidence),
                    amount_fen=line.amount_fen,
                    notice_served_at=line.notice_served_at,
                )
            )
        try:
            await self._session.flush()
        except IntegrityError as exc:  # a concurrent batch took one of these stays first
            raise StoreConflictError(detail=f"batch {batch.ref}: {exc.orig}") from exc

    async def row(self, ref: str, *, for_update: bool = False) -> HandoverBatchRow | None:
        """A batch's row by reference."""
        query = select(HandoverBatchRow).where(HandoverBatchRow.ref == ref)
        if for_update:
            query = query.with_for_update()
        found: HandoverBatchRow | None = await self._session.scalar(query)
        return found

    async def batch(self, ref: str) -> HandoverBatch | None:
        """A batch with its lines."""
        row = await self.row(ref)
        if row is None:
            return None
        query = select(HandoverLineRow).where(HandoverLineRow.batch_id == row.id)
        lines = tuple(
            HandoverLine(
                stay_ref=r.stay_ref,
                plate=r.plate,
                colour=r.colour,
                place=r.place,
                entered_at=r.entered_at,
                exited_at=r.exited_at,
                evidence=tuple(r.evidence),
                amount_fen=r.amount_fen,
                notice_served_at=r.notice_served_at,
            )
            for r in await self._session.scalars(query.order_by(HandoverLineRow.id))
        )
        return HandoverBatch(
            ref=row.ref,
            status=BatchStatus(row.status),
            created_by=row.created_by,
            created_at=row.created_at,
            lines=lines,
            handed_over_at=row.handed_over_at,
            receipt=row.receipt,
        )

    async def refs(self, limit: int = 100) -> list[str]:
        """Batch references, newest first."""
        query = select(HandoverBatchRow.ref).order_by(HandoverBatchRow.id.desc()).limit(limit)
        return list(await self._session.scalars(query))

    async def plate_colours(self, plates: list[str]) -> dict[str, str]:
        """The plate colour of each known vehicle."""
        query = select(VehicleRow.plate, VehicleRow.plate_colour).where(
            VehicleRow.plate.in_(plates)
        )
        return {plate: colour for plate, colour in await self._session.execute(query)}
