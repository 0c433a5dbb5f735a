"""Queries of networked lots; the caller's unit of work commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.store.activity import StayRow
from core.store.city import DistrictRow, LotRow, OperatorRow
from core.store.network import (
    NetworkDeviceRow,
    NetworkKeyRow,
    NetworkLotRow,
    NetworkMessageRow,
    NetworkNonceRow,
    NetworkOutboxRow,
    NetworkSessionRow,
    NetworkSummaryRow,
)

NetworkRow = (
    NetworkLotRow
    | NetworkKeyRow
    | NetworkMessageRow
    | NetworkSessionRow
    | NetworkDeviceRow
    | NetworkSummaryRow
    | NetworkOutboxRow
    | LotRow
    | OperatorRow
)

# A nonce kept past its window is dropped by the silence check (`forget_nonces`), every minute.
_NONCE_INSERTS = {
    name: dialect.insert(NetworkNonceRow)
    .on_conflict_do_nothing(index_elements=["app_id", "nonce"])
    .returning(NetworkNonceRow.nonce)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


class NetworkRepository:
    """The register, keys, messages, sessions, device states and outbox of networked lots."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, row: NetworkRow) -> None:
        """Stage a new row."""
        self._session.add(row)

    async def flush(self) -> None:
        """Give staged rows their keys."""
        await self._session.flush()

    async def district_id(self, code: str) -> int | None:
        """The id of a district by code."""
        found: int | None = await self._session.scalar(
            select(DistrictRow.id).where(DistrictRow.code == code)
        )
        return found

    async def operator_by_code(self, code: str) -> OperatorRow | None:
        """An operator by code."""
        query = select(OperatorRow).where(OperatorRow.code == code)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def caller(
        self, app_id: str, now: datetime
    ) -> tuple[NetworkLotRow, LotRow, list[NetworkKeyRow]] | None:
        """A lot by its app id with its lot row and live keys, newest first, in one statement."""
        query = (
            select(NetworkLotRow, LotRow, NetworkKeyRow)
            .join(LotRow, LotRow.id == NetworkLotRow.lot_id)
            .join(NetworkKeyRow, NetworkKeyRow.network_lot_id == NetworkLotRow.id)
            .where(
                NetworkLotRow.app_id == app_id,
                or_(NetworkKeyRow.expires_at.is_(None), NetworkKeyRow.expires_at > now),
            )
            .order_by(NetworkKeyRow.created_at.desc(), NetworkKeyRow.id.desc())
        )
        rows = (await self._session.execute(query)).all()
        if not rows:
            return None
        return rows[0][0], rows[0][1], [row[2] for row in rows]

    async def by_code(self, code: str) -> tuple[NetworkLotRow, LotRow] | None:
        """A lot by its lot code."""
        query = (
            select(NetworkLotRow, LotRow)
            .join(LotRow, LotRow.id == NetworkLotRow.lot_id)
            .where(LotRow.code == code)
        )
        row = (await self._session.execute(query)).first()
        return (row[0], row[1]) if row is not None else None

    async def by_id(self, network_lot_id: int) -> NetworkLotRow:
        """A networked lot by its id."""
        return await self._session.get_one(NetworkLotRow, network_lot_id)

    async def notice(self, notice_id: int) -> NetworkOutboxRow:
        """An outbox row by id."""
        return await self._session.get_one(NetworkOutboxRow, notice_id)

    async def by_lot_id(self, lot_id: int) -> NetworkLotRow | None:
        """The network record of a lot, when it is a networked one."""
        query = select(NetworkLotRow).where(NetworkLotRow.lot_id == lot_id)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def register(self) -> list[tuple[NetworkLotRow, LotRow]]:
        """Every networked lot, by code."""
        query = (
            select(NetworkLotRow, LotRow)
            .join(LotRow, LotRow.id == NetworkLotRow.lot_id)
            .order_by(LotRow.code)
        )
        return [(n, lot) for n, lot in (await self._session.execute(query)).all()]

    async def counts_of(self, lot_codes: Sequence[str] | None) -> dict[str, NetworkLotRow]:
        """The network records of those lots that are networked (of every one: None), by lot
        code."""
        query = select(LotRow.code, NetworkLotRow).join(
            NetworkLotRow, NetworkLotRow.lot_id == LotRow.id
        )
        if lot_codes is not None:
            query = query.where(LotRow.code.in_(lot_codes))
        return {code: row for code, row in (await self._session.execute(query)).all()}

    async def keys(self, network_lot_id: int) -> list[NetworkKeyRow]:
        """A lot's keys, newest first."""
        query = (
            select(NetworkKeyRow)
            .where(NetworkKeyRow.network_lot_id == network_lot_id)
            .order_by(NetworkKeyRow.created_at.desc(), NetworkKeyRow.id.desc())
        )
        return list(await self._session.scalars(query))

    async def message(self, network_lot_id: int, message_id: str) -> NetworkMessageRow | None:
        """A message already received under this id."""
        query = select(NetworkMessageRow).where(
            NetworkMessageRow.network_lot_id == network_lot_id,
            NetworkMessageRow.message_id == message_id,
        )
        return (await self._session.execute(query)).scalar_one_or_none()

    async def claim_nonce(self, app_id: str, nonce: str, expires_at: datetime) -> bool:
        """Record a nonce in one statement; False when it is kept already (a replay)."""
        insert = _NONCE_INSERTS[self._session.get_bind().dialect.name]
        values = {"app_id": app_id, "nonce": nonce, "expires_at": expires_at}
        return (await self._session.execute(insert, values)).first() is not None

    async def forget_nonces(self, now: datetime) -> int:
        """Drop nonces whose window has passed."""
        result = await self._session.execute(
            delete(NetworkNonceRow).where(NetworkNonceRow.expires_at <= now)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def session_stay(
        self, network_lot_id: int, session_id: str, *, for_update: bool = False
    ) -> StayRow | None:
        """The stay of a lot's session."""
        query = (
            select(StayRow)
            .join(NetworkSessionRow, NetworkSessionRow.stay_id == StayRow.id)
            .where(
                NetworkSessionRow.network_lot_id == network_lot_id,
                NetworkSessionRow.session_id == session_id,
            )
        )
        if for_update:
            query = query.with_for_update(of=StayRow)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def session_of_stay(self, stay_id: int) -> NetworkSessionRow | None:
        """The lot's session a stay came from."""
        query = select(NetworkSessionRow).where(NetworkSessionRow.stay_id == stay_id)
        return (await self._session.execute(query)).scalar_one_or_none()

    async def device(self, network_lot_id: int, device: str) -> NetworkDeviceRow | None:
        """The last reported state of a device."""
        query = select(NetworkDeviceRow).where(
            NetworkDeviceRow.network_lot_id == network_lot_id, NetworkDeviceRow.device == device
        )
        return (await self._session.execute(query)).scalar_one_or_none()

    async def open_faults(self) -> dict[int, int]:
        """Devices in fault per networked lot."""
        query = (
            select(NetworkDeviceRow.network_lot_id, func.count(NetworkDeviceRow.id))
            .where(NetworkDeviceRow.state == "fault")
            .group_by(NetworkDeviceRow.network_lot_id)
        )
        return {lot: int(n) for lot, n in await self._session.execute(query)}

    async def latest_summary(self, network_lot_id: int) -> NetworkSummaryRow | None:
        """The lot's summary of its latest day."""
        query = (
            select(NetworkSummaryRow)
            .where(NetworkSummaryRow.network_lot_id == network_lot_id)
            .order_by(NetworkSummaryRow.day.desc())
            .limit(1)
        )
        return (await self._session.execute(query)).scalar_one_or_none()

    async def summary(self, network_lot_id: int, day: date) -> NetworkSummaryRow | None:
        """The lot's summary of a day."""
        query = select(NetworkSummaryRow).where(
            NetworkSummaryRow.network_lot_id == network_lot_id, NetworkSummaryRow.day == day
        )
        return (await self._session.execute(query)).scalar_one_or_none()

    async def mark_silent(self, quiet_before: datetime, now: datetime) -> list[int]:
        """Flag lots heard from last before `quiet_before` (or never since then); their ids."""
        heard = func.coalesce(NetworkLotRow.last_seen_at, NetworkLotRow.registered_at)
        query = select(NetworkLotRow.id).where(
            NetworkLotRow.silent_since.is_(None), heard < quiet_before
        )
        ids = list(await self._session.scalars(query))
        if ids:
            await self._session.execute(
                update(NetworkLotRow).where(NetworkLotRow.id.in_(ids)).values(silent_since=now)
            )
        return ids

    async def due_notices(self, now: datetime, limit: int) -> list[NetworkOutboxRow]:
        """Undelivered notices whose next attempt is due, oldest first, locked."""
        query = (
            select(NetworkOutboxRow)
            .where(NetworkOutboxRow.delivered_at.is_(None), NetworkOutboxRow.next_attempt_at <= now)
            .order_by(NetworkOutboxRow.next_attempt_at, NetworkOutboxRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(await self._session.scalars(query))

    async def notices_after(
        self, network_lot_id: int, after_id: int, limit: int
    ) -> list[NetworkOutboxRow]:
        """A lot's notices after a cursor, delivered or not (the query for missed ones)."""
        query = (
            select(NetworkOutboxRow)
            .where(
                NetworkOutboxRow.network_lot_id == network_lot_id, NetworkOutboxRow.id > after_id
            )
            .order_by(NetworkOutboxRow.id)
            .limit(limit)
        )
        return list(await self._session.scalars(query))

    async def stays_counted(
        self, network_lot_id: int, since: datetime, until: datetime
    ) -> tuple[int, int]:
        """Entries and exits the platform holds for a lot in a window."""
        base = (
            select(func.count(StayRow.id))
            .join(NetworkSessionRow, NetworkSessionRow.stay_id == StayRow.id)
            .where(NetworkSessionRow.network_lot_id == network_lot_id)
        )
        entries = await self._session.scalar(
            base.where(StayRow.entered_at >= since, StayRow.entered_at < until)
        )
        exits = await self._session.scalar(
            base.where(StayRow.exited_at >= since, StayRow.exited_at < until)
        )
        return int(entries or 0), int(exits or 0)
