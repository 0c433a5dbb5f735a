"""Staff reads and writes of gated lots: rights, block lists, policies, stays in review."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.store.activity import StayRow
from core.store.city import LotRow
from core.store.devices import StayFlagRow
from core.store.lots import (
    LotPolicyRow,
    LotRightPlateRow,
    LotRightRow,
    LotStayRow,
    PlateBlockRow,
)


class LotAdminRepository:
    """What staff consoles need beyond the lanes' own queries; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, row: Any) -> None:
        """Track a new row."""
        self._session.add(row)

    async def flush(self) -> None:
        """Give new rows their ids."""
        await self._session.flush()

    async def lots(self) -> list[LotRow]:
        """Every lot, by code."""
        return list(await self._session.scalars(select(LotRow).order_by(LotRow.code)))

    async def lot(self, lot_id: int) -> LotRow:
        """A lot by id."""
        return await self._session.get_one(LotRow, lot_id)

    async def right_by_ref(self, ref: str, *, for_update: bool = False) -> LotRightRow | None:
        """A right by its reference; `for_update` locks its row on PostgreSQL."""
        query = select(LotRightRow).where(LotRightRow.ref == ref)
        if for_update:
            query = query.with_for_update()
        return (await self._session.execute(query)).scalar_one_or_none()

    async def plates_of(self, right_ids: Sequence[int]) -> dict[int, list[str]]:
        """The plates of some rights, sorted."""
        found: dict[int, list[str]] = {right_id: [] for right_id in right_ids}
        if not right_ids:
            return found
        query = (
            select(LotRightPlateRow.right_id, LotRightPlateRow.plate)
            .where(LotRightPlateRow.right_id.in_(list(right_ids)))
            .order_by(LotRightPlateRow.plate)
        )
        for right_id, plate in (await self._session.execute(query)).all():
            found[right_id].append(plate)
        return found

    async def plate_rows(self, right_id: int) -> list[LotRightPlateRow]:
        """The plate rows of one right."""
        query = select(LotRightPlateRow).where(LotRightPlateRow.right_id == right_id)
        return list(await self._session.scalars(query))

    async def delete(self, row: Any) -> None:
        """Remove a row."""
        await self._session.delete(row)

    async def rights_page(
        self,
        *,
        lot_ids: Sequence[int] | None,
        plate: str | None,
        kind: str | None,
        status: str | None,
        after_id: int | None,
        limit: int,
    ) -> list[tuple[LotRightRow, str]]:
        """Rights in id order with their lot's code, filtered, a page at a time."""
        query = select(LotRightRow, LotRow.code).join(LotRow, LotRow.id == LotRightRow.lot_id)
        if lot_ids is not None:
            query = query.where(LotRightRow.lot_id.in_(list(lot_ids)))
        if plate is not None:
            holders = select(LotRightPlateRow.right_id).where(LotRightPlateRow.plate == plate)
            query = query.where(LotRightRow.id.in_(holders))
        if kind is not None:
            query = query.where(LotRightRow.kind == kind)
        if status is not None:
            query = query.where(LotRightRow.status == status)
        if after_id is not None:
            query = query.where(LotRightRow.id > after_id)
        rows = await self._session.execute(query.order_by(LotRightRow.id).limit(limit))
        return [(right, code) for right, code in rows.all()]

    async def same_kind_overlaps(
        self,
        lot_id: int,
        kind: str,
        plates: Sequence[str],
        since: datetime,
        until: datetime,
        *,
        exclude_id: int | None = None,
    ) -> list[tuple[LotRightRow, str]]:
        """Active rights of a kind in a lot holding one of the plates at some moment of a window."""
        query = (
            select(LotRightRow, LotRightPlateRow.plate)
            .join(LotRightPlateRow, LotRightPlateRow.right_id == LotRightRow.id)
            .where(
                LotRightRow.lot_id == lot_id,
                LotRightRow.kind == kind,
                LotRightRow.status == "active",
                LotRightRow.valid_from < until,
                LotRightRow.valid_until > since,
                LotRightPlateRow.plate.in_(list(plates)),
            )
            .order_by(LotRightRow.id)
        )
        if exclude_id is not None:
            query = query.where(LotRightRow.id != exclude_id)
        return [(right, plate) for right, plate in (await self._session.execute(query)).all()]

    async def owned_spaces(self, lot_id: int, at: datetime, *, exclude_id: int | None) -> int:
        """Spaces of active owned-space rights of a lot not expired at a moment."""
        query = select(func.coalesce(func.sum(LotRightRow.spaces), 0)).where(
            LotRightRow.lot_id == lot_id,
            LotRightRow.kind == "owned_space",
            LotRightRow.status == "active",
            LotRightRow.valid_until > at,
        )
        if exclude_id is not None:
            query = query.where(LotRightRow.id != exclude_id)
        return int(await self._session.scalar(query) or 0)

    async def right_uses(self, right_id: int, limit: int) -> list[StayRow]:
        """The newest stays that entered with a right."""
        query = (
            select(StayRow)
            .join(LotStayRow, LotStayRow.stay_id == StayRow.id)
            .where(LotStayRow.right_id == right_id)
            .order_by(StayRow.entered_at.desc(), StayRow.id.desc())
            .limit(limit)
        )
        return list(await self._session.scalars(query))

    async def policy_for_update(self, lot_id: int) -> LotPolicyRow | None:
        """A lot's policy row, locked on PostgreSQL."""
        query = select(LotPolicyRow).where(LotPolicyRow.lot_id == lot_id).with_for_update()
        return (await self._session.execute(query)).scalar_one_or_none()

    async def block(self, block_id: int, *, for_update: bool = False) -> PlateBlockRow | None:
        """A block-list entry by id."""
        query = select(PlateBlockRow).where(PlateBlockRow.id == block_id)
        if for_update:
            query = query.with_for_update()
        return (await self._session.execute(query)).scalar_one_or_none()

    async def active_block(self, lot_id: int | None, plate: str) -> PlateBlockRow | None:
        """The active block of a plate with exactly this reach (one lot, or every lot)."""
        query = select(PlateBlockRow).where(
            PlateBlockRow.plate == plate,
            PlateBlockRow.active.is_(True),
            PlateBlockRow.lot_id.is_(None) if lot_id is None else PlateBlockRow.lot_id == lot_id,
        )
        return (await self._session.execute(query.limit(1))).scalar_one_or_none()

    async def blocks_page(
        self,
        *,
        lot_id: int | None,
        plate: str | None,
        active: bool | None,
        after_id: int | None,
        limit: int,
    ) -> list[PlateBlockRow]:
        """Block-list entries in id order; a lot's list includes blocks of every lot."""
        query = select(PlateBlockRow)
        if lot_id is not None:
            query = query.where((PlateBlockRow.lot_id == lot_id) | PlateBlockRow.lot_id.is_(None))
        if plate is not None:
            query = query.where(PlateBlockRow.plate == plate)
        if active is not None:
            query = query.where(PlateBlockRow.active.is_(active))
        if after_id is not None:
            query = query.where(PlateBlockRow.id > after_id)
        return list(await self._session.scalars(query.order_by(PlateBlockRow.id).limit(limit)))

    async def stays_in_review(self, lot_id: int) -> list[tuple[StayRow, LotStayRow]]:
        """A lot's stays waiting for a human, oldest entry first."""
        query = (
            select(StayRow, LotStayRow)
            .join(LotStayRow, LotStayRow.stay_id == StayRow.id)
            .where(StayRow.lot_id == lot_id, StayRow.status == "review")
            .order_by(StayRow.entered_at, StayRow.id)
        )
        return [(s, d) for s, d in (await self._session.execute(query)).all()]

    async def has_flag(self, stay_id: int, flag: str) -> bool:
        """Whether a stay carries a flag."""
        query = select(StayFlagRow.id).where(
            StayFlagRow.stay_id == stay_id, StayFlagRow.flag == flag
        )
        return (await self._session.scalar(query.limit(1))) is not None

    async def flagged(self, lot_id: int, flag: str) -> list[tuple[StayRow, LotStayRow]]:
        """A lot's stays carrying a flag (e.g. paid twice on site), oldest entry first."""
        query = (
            select(StayRow, LotStayRow)
            .join(LotStayRow, LotStayRow.stay_id == StayRow.id)
            .join(StayFlagRow, StayFlagRow.stay_id == StayRow.id)
            .where(StayRow.lot_id == lot_id, StayFlagRow.flag == flag)
            .order_by(StayRow.entered_at, StayRow.id)
        )
        return [(s, d) for s, d in (await self._session.execute(query)).all()]

    async def open_before(self, lot_id: int, before: datetime) -> list[tuple[StayRow, LotStayRow]]:
        """A lot's open stays that entered before a moment (stale: the exit was never seen)."""
        query = (
            select(StayRow, LotStayRow)
            .join(LotStayRow, LotStayRow.stay_id == StayRow.id)
            .where(StayRow.lot_id == lot_id, StayRow.status == "open", StayRow.entered_at < before)
            .order_by(StayRow.entered_at, StayRow.id)
        )
        return [(s, d) for s, d in (await self._session.execute(query)).all()]

    async def stay_by_ref(self, ref: str, *, for_update: bool = False) -> StayRow | None:
        """A stay by reference; `for_update` locks its row on PostgreSQL."""
        query = select(StayRow).where(StayRow.ref == ref)
        if for_update:  # read again under the lock, even if this session loaded it before
            query = query.with_for_update().execution_options(populate_existing=True)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def next_entry(self, lot_id: int, plate: str, after: StayRow) -> StayRow | None:
        """The plate's first stay in the lot that entered after a stay (the one that sent it
        to review when its exit was missed)."""
        later = or_(
            StayRow.entered_at > after.entered_at,
            and_(StayRow.entered_at == after.entered_at, StayRow.id > after.id),
        )
        query = (
            select(StayRow)
            .where(
                StayRow.lot_id == lot_id,
                StayRow.plate == plate,
                StayRow.status != "void",
                later,
            )
            .order_by(StayRow.entered_at, StayRow.id)
        )
        return (await self._session.execute(query.limit(1))).scalar_one_or_none()
