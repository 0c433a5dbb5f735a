"""The append-only audit log; appends are serialised so the hash chain cannot fork."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import GENESIS, AuditLink, link_hash
from core.store.activity import AuditRow

# Key of the transaction-scoped PostgreSQL advisory lock that serialises appends ("audt").
AUDIT_LOCK_KEY = 0x61756474

_LINK_COLUMNS = (
    AuditRow.id,
    AuditRow.at,
    AuditRow.actor,
    AuditRow.action,
    AuditRow.target,
    AuditRow.reason,
    AuditRow.details,
    AuditRow.prev_hash,
    AuditRow.hash,
)


class AuditRepository:
    """Appends links and reads them back; never commits, never updates or deletes."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def append(
        self,
        at: datetime,
        actor: str,
        action: str,
        target: str,
        reason: str,
        details: dict[str, Any],
    ) -> AuditLink:
        """Add a link after the current last one; holds the append lock until commit."""
        await self._lock()
        last = (
            await self._session.execute(
                select(AuditRow.id, AuditRow.hash).order_by(AuditRow.id.desc()).limit(1)
            )
        ).first()
        last_id, prev_hash = (last[0], last[1]) if last is not None else (0, GENESIS)
        # Stored JSON comes back as plain JSON types; hash exactly what will be read back.
        stored = json.loads(json.dumps(details, allow_nan=False))
        digest = link_hash(prev_hash, at, actor, action, target, reason, stored)
        # The id is chosen here, under the lock, rather than by a sequence: a rolled-back
        # append would otherwise leave a gap that verification reports as a removed link.
        # It also makes a fork impossible even without the lock: two links cannot share an id.
        link = AuditLink(last_id + 1, at, actor, action, target, reason, stored, prev_hash, digest)
        self._session.add(
            AuditRow(
                id=link.id,
                at=at,
                actor=actor,
                action=action,
                target=target,
                reason=reason,
                details=stored,
                prev_hash=prev_hash,
                hash=digest,
            )
        )
        await self._session.flush()
        return link

    async def _lock(self) -> None:
        """Become the only appender until this transaction ends."""
        if self._session.get_bind().dialect.name == "postgresql":
            await self._session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY}
            )
        else:
            # SQLite has one writer. The driver only opens a transaction at the first write,
            # so a no-op write takes the write lock before the last link is read; a second
            # appender waits here (busy_timeout) until this transaction commits or rolls back.
            await self._session.execute(text("UPDATE audit_log SET id = id WHERE 0 = 1"))

    async def all_links(self, *, batch: int = 500) -> AsyncIterator[AuditLink]:
        """Every link in id order, read in keyset batches so memory stays flat."""
        after = 0
        while True:
            query = select(*_LINK_COLUMNS).where(AuditRow.id > after).order_by(AuditRow.id)
            rows = (await self._session.execute(query.limit(batch))).all()
            for row in rows:
                yield AuditLink(*row)
            if len(rows) < batch:
                return
            after = rows[-1][0]

    async def page(
        self,
        *,
        before_id: int | None = None,
        limit: int = 50,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
    ) -> list[AuditLink]:
        """Links newest first, `limit` at a time, starting before an id, optionally filtered."""
        query: Select[Any] = select(*_LINK_COLUMNS).order_by(AuditRow.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(AuditRow.id < before_id)
        if actor is not None:
            query = query.where(AuditRow.actor == actor)
        if action is not None:
            query = query.where(AuditRow.action == action)
        if target is not None:
            query = query.where(AuditRow.target == target)
        return [AuditLink(*row) for row in (await self._session.execute(query)).all()]

    async def head(self) -> AuditLink | None:
        """The newest link, if any."""
        links = await self.page(limit=1)
        return links[0] if links else None
