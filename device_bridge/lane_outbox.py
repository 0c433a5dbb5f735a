"""The lane command outbox: commands the broker could not take, delivered when it returns."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from core.clock import Clock
from core.lanes import LaneCommand
from core.store.database import Database
from core.store.lane_outbox import LaneOutboxRepository
from core.store.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

Send = Callable[[list[LaneCommand]], Awaitable[None]]
_BATCH = 200
_CLAIM_SECONDS = 30  # a worker that dies while sending frees its claim after this


@dataclass(frozen=True, slots=True)
class Round:
    """What one delivery round did."""

    sent: int
    voided: int
    left: bool  # commands still waiting (the broker failed again, or more than a batch)


class LaneOutbox:
    """Keeps commands in the database; `deliver` sends them oldest first, voiding stale ones."""

    def __init__(self, database: Database, clock: Clock, max_age_seconds: float) -> None:
        self._database = database
        self._clock = clock
        self._max_age = timedelta(seconds=max_age_seconds)
        self.backlog = True  # until a round finds the table empty (a restart may have left some)

    async def keep(self, commands: list[LaneCommand]) -> None:
        """Store commands for a later round."""
        async with UnitOfWork(self._database.sessions) as uow:
            LaneOutboxRepository(uow.session).add(commands, self._clock.now())
            await uow.commit()
        self.backlog = True

    async def deliver(self, send: Send) -> Round:
        """Void what is too old, then send one batch in order; a failure releases the rest."""
        now = self._clock.now()
        async with UnitOfWork(self._database.sessions) as uow:
            outbox = LaneOutboxRepository(uow.session)
            voided = await outbox.void_before(now - self._max_age)
            rows = await outbox.claim(now, now + timedelta(seconds=_CLAIM_SECONDS), _BATCH)
            await uow.commit()
        if voided:
            log.warning("%d lane commands older than %s voided, not sent", voided, self._max_age)
        sent: list[int] = []
        try:
            for row in rows:
                await send([row.command()])
                sent.append(row.id)
        finally:
            async with UnitOfWork(self._database.sessions) as uow:
                outbox = LaneOutboxRepository(uow.session)
                await outbox.remove(sent)
                await outbox.release([row.id for row in rows if row.id not in set(sent)])
                await uow.commit()
        self.backlog = len(rows) == _BATCH  # all sent; a full batch may have more behind it
        if sent:
            log.info("%d lane commands delivered from the outbox", len(sent))
        return Round(len(sent), voided, self.backlog)
