"""Staff accounts and the scopes that limit where they act."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.staff import Scope, scope_from_entries
from core.store.people import StaffRow, StaffScopeRow


class StaffRepository:
    """Reads and writes staff rows; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def by_username(self, username: str, *, for_update: bool = False) -> StaffRow | None:
        """The account with this username; `for_update` locks its row on PostgreSQL."""
        query = select(StaffRow).where(StaffRow.username == username)
        if for_update:
            query = query.with_for_update()
        row: StaffRow | None = await self._session.scalar(query)
        return row

    async def by_id(self, staff_id: int) -> StaffRow | None:
        """The account with this id."""
        return await self._session.get(StaffRow, staff_id)

    async def page(self, *, after_id: int | None = None, limit: int = 100) -> list[StaffRow]:
        """Accounts in id order, `limit` at a time, starting after an id."""
        query = select(StaffRow).order_by(StaffRow.id).limit(limit)
        if after_id is not None:
            query = query.where(StaffRow.id > after_id)
        return list(await self._session.scalars(query))

    async def add(self, row: StaffRow, scope: Scope) -> None:
        """Store a new account with its scope; its id is set on return."""
        self._session.add(row)
        await self._session.flush()
        self._session.add_all(
            StaffScopeRow(staff_id=row.id, kind=kind.value, code=code)
            for kind, code in scope.entries()
        )
        await self._session.flush()

    async def replace_scope(self, staff_id: int, scope: Scope) -> None:
        """Set an account's scope, dropping what it had."""
        await self._session.execute(delete(StaffScopeRow).where(StaffScopeRow.staff_id == staff_id))
        self._session.add_all(
            StaffScopeRow(staff_id=staff_id, kind=kind.value, code=code)
            for kind, code in scope.entries()
        )
        await self._session.flush()

    async def scopes_of(self, staff_id: int) -> Scope:
        """Where one account may act."""
        return (await self.scopes_for([staff_id]))[staff_id]

    async def scopes_for(self, staff_ids: Sequence[int]) -> dict[int, Scope]:
        """Scopes of several accounts in one query; an account without entries is city-wide."""
        if not staff_ids:
            return {}
        query = select(StaffScopeRow.staff_id, StaffScopeRow.kind, StaffScopeRow.code).where(
            StaffScopeRow.staff_id.in_(staff_ids)
        )
        entries: dict[int, list[tuple[str, str]]] = {staff_id: [] for staff_id in staff_ids}
        for staff_id, kind, code in await self._session.execute(query):
            entries[staff_id].append((kind, code))
        return {staff_id: scope_from_entries(pairs) for staff_id, pairs in entries.items()}
