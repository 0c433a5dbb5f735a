"""Drivers and the openid each WeChat app gives them; never commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.store.people import DriverOpenidRow, DriverRow


class DriverRepository:
    """Finds drivers by unionid or by (appid, openid) and records new ones."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, driver_id: int) -> DriverRow | None:
        """The driver with this id."""
        return await self._session.get(DriverRow, driver_id)

    async def by_unionid(self, unionid: str) -> DriverRow | None:
        """The driver with this unionid."""
        row: DriverRow | None = await self._session.scalar(
            select(DriverRow).where(DriverRow.unionid == unionid)
        )
        return row

    async def by_openid(self, appid: str, openid: str) -> DriverRow | None:
        """The driver an app's openid belongs to."""
        query = (
            select(DriverRow)
            .join(DriverOpenidRow, DriverOpenidRow.driver_id == DriverRow.id)
            .where(DriverOpenidRow.appid == appid, DriverOpenidRow.openid == openid)
        )
        row: DriverRow | None = await self._session.scalar(query)
        return row

    async def openid(self, driver_id: int, appid: str) -> str | None:
        """The openid a driver has in one app."""
        query = select(DriverOpenidRow.openid).where(
            DriverOpenidRow.driver_id == driver_id, DriverOpenidRow.appid == appid
        )
        openid: str | None = await self._session.scalar(query)
        return openid

    async def add(self, row: DriverRow) -> None:
        """Record a new driver; its id is set on return."""
        self._session.add(row)
        await self._session.flush()

    async def add_openid(self, driver_id: int, appid: str, openid: str) -> None:
        """Record the openid a driver has in an app."""
        self._session.add(DriverOpenidRow(driver_id=driver_id, appid=appid, openid=openid))
        await self._session.flush()
