"""Counts for operators' dashboards, read in one read-only unit of work."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.operations import OperationalCounts
from core.store.auto_pay import StayParkingRow
from core.store.devices import NotificationRow
from core.store.lane_outbox import LaneOutboxRow
from core.store.payments import PaymentRow, RefundRow


class OperationsRepository:
    """Outbox depths and rows by state; never writes."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def counts(self) -> OperationalCounts:
        """The counts as of this transaction."""
        outbox = await self._session.scalar(select(func.count()).select_from(LaneOutboxRow))
        pending = await self._session.scalar(
            select(func.count())
            .select_from(NotificationRow)
            .where(NotificationRow.sent_at.is_(None))
        )
        return OperationalCounts(
            lane_outbox=int(outbox or 0),
            notices_pending=int(pending or 0),
            payments=await self._by(PaymentRow.status),
            refunds=await self._by(RefundRow.status),
            deductions=await self._by(StayParkingRow.state),
        )

    async def _by(self, column: InstrumentedAttribute[str]) -> dict[str, int]:
        rows = await self._session.execute(select(column, func.count()).group_by(column))
        return {str(state): int(count) for state, count in rows.all()}
