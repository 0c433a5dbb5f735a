"""Where lots and street berths are, and how full: the SQL side of spaces near me."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.nearby import Box, GeoPoint, PlaceKind, PlaceSpot, lot_key, street_key
from core.store.activity import StayRow
from core.store.city import BerthRow, LotRow, ZoneRow
from core.store.devices import BerthClosureRow, BerthStateRow

# Built once: building a statement costs about as much CPU as running it (spaces near me asks
# this on every answer).
_OPEN_STAYS_OF_LOTS = (
    select(LotRow.code, func.count(StayRow.id))
    .join(StayRow, and_(StayRow.lot_id == LotRow.id, StayRow.status == "open"))
    .group_by(LotRow.code)
)
_OPEN_STAYS_PER_LOT = _OPEN_STAYS_OF_LOTS.where(LotRow.code.in_(bindparam("codes", expanding=True)))


class PlaceRepository:
    """Lots and on-street streets as places with a point, and their occupancy."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lot_keys_in(self, box: Box) -> list[str]:
        """Keys of the lots inside a box."""
        query = select(LotRow.code).where(
            LotRow.lat.between(box.min_lat, box.max_lat),
            LotRow.lng.between(box.min_lng, box.max_lng),
        )
        return [lot_key(code) for code in await self._session.scalars(query)]

    async def streets(self, zone_codes: Sequence[str] | None = None) -> list[PlaceSpot]:
        """Each street of each zone, at the mean point of its berths."""
        query = (
            select(
                ZoneRow.code,
                ZoneRow.name,
                ZoneRow.tariff_code,
                BerthRow.street,
                func.avg(BerthRow.lat),
                func.avg(BerthRow.lng),
                func.count(BerthRow.id),
            )
            .join(ZoneRow, ZoneRow.id == BerthRow.zone_id)
            .group_by(ZoneRow.code, ZoneRow.name, ZoneRow.tariff_code, BerthRow.street)
        )
        if zone_codes is not None:
            query = query.where(ZoneRow.code.in_(zone_codes))
        return [
            PlaceSpot(
                key=street_key(zone, street or ""),
                kind=PlaceKind.STREET,
                code=f"{zone}/{street or ''}",
                name=f"{name}·{street or ''}",
                point=GeoPoint(round(float(lat), 6), round(float(lng), 6)),
                total=int(total),
                tariff_code=tariff,
            )
            for zone, name, tariff, street, lat, lng, total in await self._session.execute(query)
        ]

    async def lots(self, codes: Sequence[str] | None = None) -> list[PlaceSpot]:
        """Lots as places, all of them or those named."""
        query = select(LotRow)
        if codes is not None:
            query = query.where(LotRow.code.in_(codes))
        return [
            PlaceSpot(
                key=lot_key(lot.code),
                kind=PlaceKind.LOT,
                code=lot.code,
                name=lot.name,
                point=GeoPoint(float(lot.lat), float(lot.lng)),
                total=lot.capacity,
                tariff_code=lot.tariff_code,
            )
            for lot in await self._session.scalars(query)
        ]

    async def open_stays_per_lot(self, codes: Sequence[str] | None) -> dict[str, int]:
        """Open stays of each named lot, or of every lot (None); lots with none are left out."""
        if codes is None:
            rows = await self._session.execute(_OPEN_STAYS_OF_LOTS)
        else:
            rows = await self._session.execute(_OPEN_STAYS_PER_LOT, {"codes": list(codes)})
        return {code: int(n) for code, n in rows}

    async def free_per_street(self, zone_codes: Sequence[str], now: datetime) -> dict[str, int]:
        """Free berths per street key (not occupied, not closed), without the live store."""
        closed_now = select(BerthClosureRow.berth_id).where(
            BerthClosureRow.starts_at <= now,
            or_(BerthClosureRow.ends_at.is_(None), BerthClosureRow.ends_at > now),
        )
        query = (
            select(ZoneRow.code, BerthRow.street, func.count(BerthRow.id))
            .join(ZoneRow, ZoneRow.id == BerthRow.zone_id)
            .outerjoin(BerthStateRow, BerthStateRow.berth_id == BerthRow.id)
            .where(
                ZoneRow.code.in_(zone_codes),
                BerthRow.closed.is_(False),
                BerthRow.id.not_in(closed_now),
                or_(BerthStateRow.occupied.is_(None), BerthStateRow.occupied.is_(False)),
            )
            .group_by(ZoneRow.code, BerthRow.street)
        )
        rows = await self._session.execute(query)
        return {street_key(zone, street or ""): int(n) for zone, street, n in rows}
