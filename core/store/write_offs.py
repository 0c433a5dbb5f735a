"""The write-off table and its repository: requests, the one conditional decision; no commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.store.base import Base
from core.write_offs import WriteOff, WriteOffStatus


class WriteOffRow(Base):
    """A write-off request of an arrear; the amount is what was due when asked."""

    __tablename__ = "write_offs"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        Index("ix_write_offs_status_requested_at", "status", "requested_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stay_id: Mapped[int] = mapped_column(ForeignKey("stays.id"), index=True)
    stay_ref: Mapped[str] = mapped_column(String(32))
    plate: Mapped[str] = mapped_column(String(16))
    operator_code: Mapped[str] = mapped_column(String(32))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12))
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    requested_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)


def write_off_of(row: WriteOffRow) -> WriteOff:
    """The domain view of a stored request."""
    return WriteOff(
        id=row.id,
        stay_ref=row.stay_ref,
        plate=row.plate,
        operator_code=row.operator_code,
        amount_fen=row.amount_fen,
        reason=row.reason,
        status=WriteOffStatus(row.status),
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_note=row.decision_note,
    )


class WriteOffRepository:
    """Rows of the write-off table."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, row: WriteOffRow) -> None:
        """Insert a request (flushed, so it has its id)."""
        self._session.add(row)
        await self._session.flush()

    async def get(self, write_off_id: int) -> WriteOffRow | None:
        """One request by id."""
        return await self._session.get(WriteOffRow, write_off_id)

    async def pending_for(self, stay_id: int) -> WriteOffRow | None:
        """The stay's request waiting for a decision, if any."""
        query = select(WriteOffRow).where(
            WriteOffRow.stay_id == stay_id, WriteOffRow.status == WriteOffStatus.PENDING.value
        )
        row: WriteOffRow | None = await self._session.scalar(query)
        return row

    async def decide(
        self,
        write_off_id: int,
        status: WriteOffStatus,
        staff_id: int,
        username: str,
        at: datetime,
        note: str,
    ) -> bool:
        """Move a pending request to `status` unless someone else did first, or it is one's own.

        Two approvers at once: the database lets one UPDATE match the pending row.
        """
        statement = (
            update(WriteOffRow)
            .where(
                WriteOffRow.id == write_off_id,
                WriteOffRow.status == WriteOffStatus.PENDING.value,
                WriteOffRow.requested_by_id != staff_id,
            )
            .values(
                status=status.value,
                decided_by=username,
                decided_by_id=staff_id,
                decided_at=at,
                decision_note=note,
            )
            .execution_options(synchronize_session=False)
        )
        result = await self._session.execute(statement)
        return bool(getattr(result, "rowcount", 0) == 1)

    async def listed(
        self,
        status: WriteOffStatus | None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 200,
    ) -> list[WriteOff]:
        """Requests newest first; with bounds, those decided (or asked, if pending) in them."""
        query = select(WriteOffRow).order_by(WriteOffRow.id.desc()).limit(limit)
        if status is not None:
            query = query.where(WriteOffRow.status == status.value)
        if start is not None and end is not None:
            query = query.where(WriteOffRow.decided_at >= start, WriteOffRow.decided_at < end)
        return [write_off_of(row) for row in await self._session.scalars(query)]

    async def approved_fen(self, operator_code: str, start: datetime, end: datetime) -> int:
        """Fen of the operator's write-offs approved in [start, end)."""
        query = select(func.coalesce(func.sum(WriteOffRow.amount_fen), 0)).where(
            WriteOffRow.operator_code == operator_code,
            WriteOffRow.status == WriteOffStatus.APPROVED.value,
            WriteOffRow.decided_at >= start,
            WriteOffRow.decided_at < end,
        )
        return int(await self._session.scalar(query) or 0)
