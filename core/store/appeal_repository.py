"""Appeals, complaints and approvals: reads, adds, the one conditional decision; no commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.appeals import OPEN_CASES, ApprovalStatus
from core.store.appeals import AppealRow, ApprovalRow
from core.store.city import LaneRow
from core.store.devices import BerthObservationRow
from core.store.lots import LanePassageRow

_OPEN = [status.value for status in OPEN_CASES]


class AppealRepository:
    """Rows of the appeal and approval tables."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, row: AppealRow) -> None:
        """Insert an appeal or complaint (flushed, so it has its id)."""
        self._session.add(row)
        await self._session.flush()

    async def get(self, appeal_id: int, *, for_update: bool = False) -> AppealRow | None:
        """One case by id."""
        query = select(AppealRow).where(AppealRow.id == appeal_id)
        if for_update:
            query = query.with_for_update()
        row: AppealRow | None = await self._session.scalar(query)
        return row

    async def by_complaint(
        self, complaint_id: str, *, for_update: bool = False
    ) -> AppealRow | None:
        """The case of a WeChat Pay complaint."""
        query = select(AppealRow).where(AppealRow.complaint_id == complaint_id)
        if for_update:
            query = query.with_for_update()
        row: AppealRow | None = await self._session.scalar(query)
        return row

    async def open_for_stay(self, stay_ref: str) -> AppealRow | None:
        """The stay's open appeal, if any."""
        query = select(AppealRow).where(AppealRow.stay_ref == stay_ref, AppealRow.status.in_(_OPEN))
        row: AppealRow | None = await self._session.scalar(query.limit(1))
        return row

    async def of_driver(self, driver_id: int, limit: int) -> list[AppealRow]:
        """A driver's own appeals, newest first."""
        query = (
            select(AppealRow)
            .where(AppealRow.driver_id == driver_id)
            .order_by(AppealRow.id.desc())
            .limit(limit)
        )
        return list(await self._session.scalars(query))

    async def page(
        self, *, open_only: bool, overdue_at: datetime | None, limit: int, after: int | None
    ) -> list[AppealRow]:
        """The queue: oldest deadline first; overdue ones only when `overdue_at` is given."""
        query = select(AppealRow)
        if open_only or overdue_at is not None:
            query = query.where(AppealRow.status.in_(_OPEN))
        if overdue_at is not None:
            query = query.where(AppealRow.due_at < overdue_at)
        if after is not None:
            query = query.where(AppealRow.id > after)
        query = query.order_by(AppealRow.due_at, AppealRow.id).limit(limit)
        return list(await self._session.scalars(query))

    async def add_approval(self, row: ApprovalRow) -> None:
        """Insert an approval request (flushed, so it has its id)."""
        self._session.add(row)
        await self._session.flush()

    async def approval(self, approval_id: int) -> ApprovalRow | None:
        """One approval request by id."""
        row: ApprovalRow | None = await self._session.get(ApprovalRow, approval_id)
        return row

    async def approvals(self, status: ApprovalStatus, limit: int) -> list[ApprovalRow]:
        """Approval requests in a status, oldest first."""
        query = (
            select(ApprovalRow)
            .where(ApprovalRow.status == status.value)
            .order_by(ApprovalRow.created_at, ApprovalRow.id)
            .limit(limit)
        )
        return list(await self._session.scalars(query))

    async def approvals_of(self, appeal_id: int) -> list[ApprovalRow]:
        """Every approval request of one case, oldest first."""
        query = select(ApprovalRow).where(ApprovalRow.appeal_id == appeal_id)
        return list(await self._session.scalars(query.order_by(ApprovalRow.id)))

    async def decide_approval(
        self,
        approval_id: int,
        status: ApprovalStatus,
        staff_id: int,
        username: str,
        at: datetime,
        note: str,
    ) -> bool:
        """Move a pending request to `status` unless someone else did first (conditional update).

        Two approvers at once: the database lets one UPDATE match the pending row; the other,
        waiting on its lock, then finds it no longer pending and matches nothing.
        """
        statement = (
            update(ApprovalRow)
            .where(
                ApprovalRow.id == approval_id,
                ApprovalRow.status == ApprovalStatus.PENDING.value,
                ApprovalRow.requested_by_id != staff_id,
            )
            .values(
                status=status.value,
                decided_by=username,
                decided_by_id=staff_id,
                decided_at=at,
                note=note,
            )
            .execution_options(synchronize_session=False)
        )
        result = await self._session.execute(statement)
        return bool(getattr(result, "rowcount", 0) == 1)

    async def mark_failed(self, approval_id: int, note: str) -> None:
        """An approved request the service refused to apply."""
        statement = (
            update(ApprovalRow)
            .where(ApprovalRow.id == approval_id)
            .values(status=ApprovalStatus.FAILED.value, note=note)
            .execution_options(synchronize_session=False)
        )
        await self._session.execute(statement)

    async def berth_trace(
        self, berth_id: int, start: datetime, end: datetime
    ) -> list[BerthObservationRow]:
        """A berth's observations in a window, in device time order."""
        query = (
            select(BerthObservationRow)
            .where(
                BerthObservationRow.berth_id == berth_id,
                BerthObservationRow.device_time >= start,
                BerthObservationRow.device_time <= end,
            )
            .order_by(BerthObservationRow.device_time, BerthObservationRow.id)
            .limit(500)
        )
        return list(await self._session.scalars(query))

    async def lane_reads(
        self, stay_id: int
    ) -> list[tuple[datetime, str, str, str | None, int | None, str, str | None]]:
        """The lane passages of a stay: time, direction, lane, plate, confidence, action, image."""
        query = (
            select(
                LanePassageRow.read_at,
                LanePassageRow.direction,
                LaneRow.code,
                LanePassageRow.plate,
                LanePassageRow.confidence,
                LanePassageRow.action,
                LanePassageRow.image_ref,
            )
            .join(LaneRow, LaneRow.id == LanePassageRow.lane_id)
            .where(LanePassageRow.stay_id == stay_id)
            .order_by(LanePassageRow.read_at, LanePassageRow.id)
        )
        return [tuple(row) for row in (await self._session.execute(query)).all()]
