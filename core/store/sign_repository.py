"""Guidance signs as stored: read for the pusher, written by staff."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.store.signs import GuidanceSignRow


class SignRepository:
    """The guidance_signs table."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def listed(self, *, enabled_only: bool = False) -> list[GuidanceSignRow]:
        """Every sign by code, or only those switched on."""
        query = select(GuidanceSignRow).order_by(GuidanceSignRow.code)
        if enabled_only:
            query = query.where(GuidanceSignRow.enabled.is_(True))
        return list(await self._session.scalars(query))

    async def by_code(self, code: str) -> GuidanceSignRow | None:
        """One sign, locked for update."""
        query = select(GuidanceSignRow).where(GuidanceSignRow.code == code).with_for_update()
        row: GuidanceSignRow | None = await self._session.scalar(query)
        return row

    def add(self, row: GuidanceSignRow) -> None:
        """Store a new sign (the unit of work commits)."""
        self._session.add(row)
