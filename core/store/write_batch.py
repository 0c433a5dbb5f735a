"""Writes queued in the unit of work and sent to PostgreSQL as one statement.

A lane read wrote its stay, lot stay, passage and ledger rows one statement each: a round trip
apiece, with the lot's lock held over every one. On PostgreSQL these writes now wait in the
transaction's queue and go out together, as the data-modifying parts of a single `WITH`
statement, when the unit commits or when anything else is about to read or write: the
session's own queries and flushes send the queue first (the hooks at the end), so a read in
the same transaction still sees every write before it. Elsewhere (SQLite) rows are left to
the ORM's flush, as before.

The values are taken when the batch is sent, not when a row is queued, so a row changed after
it was queued goes out as it is then. A row is queued at most once per batch: PostgreSQL lets
one statement update a row only once.

The unit of work's commit sends its batch as the last one (`last_writes`): the rows it inserts
get their keys and defaults but are left detached, not added to the session, which nothing
reads them from before the unit closes (adding them cost CPU on every lane read;
docs/performance.md). A row so left and changed afterwards would never be written, so the
unit's next commit refuses (`left_unchanged`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from asyncpg.exceptions import IntegrityConstraintViolationError
from sqlalchemy import (
    CTE,
    Table,
    and_,
    event,
    func,
    insert,
    inspect,
    literal_column,
    select,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.util import await_only

from core.store.base import Base
from core.store.conflicts import StoreConflictError
from core.store.driver_sql import (
    Prepared,
    arguments,
    bind_param,
    conflicts_rolled_back,
    driver_connection,
    prepared_statement,
    row_columns,
)

_BATCH_KEY = "write_batch.batch"


@dataclass(slots=True)
class _Insert:
    row: Base
    children: Sequence[Base] = ()  # append-only rows that take the row's generated key
    child_key: str = ""  # the children's column holding it


@dataclass(slots=True)
class _Update:
    row: Base


@dataclass(slots=True)
class _Batch:
    transaction: SessionTransaction
    driver: Any
    writes: list[_Insert | _Update] = field(default_factory=list)
    queued: set[int] = field(default_factory=set)  # id() of the rows waiting
    inserted: list[Base] = field(default_factory=list)  # to forget if the transaction is undone
    failed: Exception | None = None  # a batch the session's own call sent, and it failed

    def add(self, write: _Insert | _Update) -> None:
        self.writes.append(write)
        self.queued.add(id(write.row))


async def _batch(session: AsyncSession) -> _Batch | None:
    """This transaction's queue; None where rows are left to the ORM (not PostgreSQL)."""
    found = _current(session.sync_session)
    if found is not None:
        return found
    driver = await driver_connection(session)
    if driver is None:
        return None
    transaction = session.sync_session.get_transaction()
    assert transaction is not None  # driver_connection began it
    batch = session.info[_BATCH_KEY] = _Batch(transaction, driver)
    return batch


def _current(session: Session) -> _Batch | None:
    batch: _Batch | None = session.info.get(_BATCH_KEY)
    if batch is not None and batch.transaction is not session.get_transaction():
        del session.info[_BATCH_KEY]  # committed or rolled back: its writes are gone with it
        return None
    return batch


async def insert_row(session: AsyncSession, row: Base, *, key_now: bool = True) -> None:
    """Store a new row: with its key at once if `key_now`, else with the next batch."""
    batch = await _batch(session)
    if batch is None:
        session.add(row)
        if key_now:
            await _orm_flush(session)
        return
    batch.add(_Insert(row))
    if key_now:
        await flush_writes(session)


async def insert_with_children(
    session: AsyncSession, row: Base, children: Sequence[Base], child_key: str
) -> None:
    """Store a new row and append-only rows that hold its key in `child_key`, with the next
    batch; the children are not kept in the session (nothing changes them afterwards)."""
    batch = await _batch(session)
    if batch is None:
        session.add(row)
        await _orm_flush(session)
        identity = inspect(row).identity
        assert identity is not None  # flushed: the row has its key
        for child in children:
            setattr(child, child_key, identity[0])
        session.add_all(children)
        return
    batch.add(_Insert(row, children, child_key))


async def write_changes(session: AsyncSession, row: Base) -> None:
    """Write a loaded row's changes with the next batch; elsewhere the ORM's flush will."""
    batch = await _batch(session)
    if batch is not None and id(row) not in batch.queued:
        batch.add(_Update(row))


async def flush_writes(session: AsyncSession) -> None:
    """Send the queued writes now; a broken constraint rolls the unit back (a conflict)."""
    await _flush(session, keep=True)


async def last_writes(session: AsyncSession) -> list[Base]:
    """Send the queued writes before the commit; the rows inserted are left detached (with
    their keys) instead of joining the session, and returned."""
    return await _flush(session, keep=False)


def left_unchanged(rows: Sequence[Base]) -> None:
    """Refuse if a row `last_writes` left detached was changed since: it would not be written."""
    for row in rows:
        state = instance_state(row)
        if state.detached and state.modified:
            raise RuntimeError(
                f"{type(row).__name__} {state.key}: changed after the commit that inserted it; "
                "load it again to change it"
            )


async def _flush(session: AsyncSession, *, keep: bool) -> list[Base]:
    batch = _current(session.sync_session)
    if batch is not None and batch.failed is not None:
        # Sent by one of the session's own calls, which could not roll back: never commit it.
        failed = batch.failed
        await session.rollback()
        raise StoreConflictError(detail=str(failed)) from failed
    if batch is None or not batch.writes:
        return []
    async with conflicts_rolled_back(session):
        return await _send(batch, session.get_bind().dialect, keep=keep)


async def _orm_flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise StoreConflictError(detail=str(exc.orig)) from exc


class _Part:
    """One queued write as parts of the statement: its CTEs, values and results."""

    def __init__(self, n: int, write: _Insert | _Update) -> None:
        self.write = write
        self.prefix = f"w{n}_"
        table = write.row.__table__
        assert isinstance(table, Table)
        self.table = table
        self.values: dict[str, Any] = {}
        self.generated: list[str] = []
        if isinstance(write, _Update):
            self._update_values()
        else:
            self._insert_values()

    def _update_values(self) -> None:
        state = instance_state(self.write.row)
        unmodified = state.unmodified
        self.keys = tuple(c.key for c in self.table.columns if c.key not in unmodified)
        self.pk = tuple(c.key for c in self.table.primary_key.columns)
        for key in self.keys:
            self.values[self.prefix + key] = state.dict[key]
        for key in self.pk:
            self.values[f"{self.prefix}pk_{key}"] = state.dict[key]
        self.shape: tuple[Any, ...] = ("u", self.table.name, self.keys)

    def _insert_values(self) -> None:
        write = self.write
        assert isinstance(write, _Insert)
        _, values = row_columns(write.row)
        self.row_values = values
        self.keys = tuple(sorted(values))
        self.generated = [c.key for c in self.table.primary_key.columns if c.key not in values]
        for key in self.keys:
            self.values[self.prefix + key] = values[key]
        child_shape: tuple[Any, ...] = ()
        if write.children:
            shaped = [row_columns(child) for child in write.children]
            self.child_table = shaped[0][0]
            self.child_keys = tuple(sorted(k for k in shaped[0][1] if k != write.child_key))
            for j, (table, values) in enumerate(shaped):
                if table is not self.child_table:
                    raise ValueError("the children of a row are rows of one table")
                for key in self.child_keys:
                    self.values[f"{self.prefix}c{j}_{key}"] = values[key]
            child_shape = (self.child_table.name, write.child_key, self.child_keys, len(shaped))
        self.shape = ("i", self.table.name, self.keys, child_shape)

    @property
    def empty(self) -> bool:
        return isinstance(self.write, _Update) and not self.keys

    def statements(self) -> tuple[list[CTE], list[Any]]:
        """The CTEs of this write and the columns the final SELECT returns for it."""
        p, table = self.prefix, self.table
        if isinstance(self.write, _Update):
            where = and_(*(table.c[k] == bind_param(table, k, f"{p}pk_") for k in self.pk))
            values = {k: bind_param(table, k, p) for k in self.keys}
            one: Any = literal_column("1")
            cte = update(table).where(where).values(values).returning(one).cte(p + "u")
            return [cte], [select(func.count()).select_from(cte).scalar_subquery()]
        returned: list[Any] = [table.c[k] for k in self.generated] or [literal_column("1")]
        values = {k: bind_param(table, k, p) for k in self.keys}
        made = insert(table).values(values).returning(*returned).cte(p + "i")
        outputs = [select(made.c[k]).scalar_subquery() for k in self.generated]
        if not self.write.children:
            return [made], outputs
        return [made, self._children(made)], outputs

    def _children(self, made: CTE) -> CTE:
        write = self.write
        assert isinstance(write, _Insert)
        table, p = self.child_table, self.prefix
        key = select(made.c[self.generated[0]]).scalar_subquery()
        rows = [
            {k: bind_param(table, k, f"{p}c{j}_") for k in self.child_keys} | {write.child_key: key}
            for j in range(len(write.children))
        ]
        return insert(table).values(rows).returning(literal_column("1")).cte(p + "c")

    def apply(self, session: Session, results: Sequence[Any], *, keep: bool) -> None:
        """After the statement: an update is checked and clean, an insert holds its key and
        defaults as if loaded, in the session if `keep`, else detached."""
        row = self.write.row
        state = instance_state(row)
        if isinstance(self.write, _Update):
            if results[0] != 1:  # it was loaded in this transaction, so it exists
                raise LookupError(f"{self.table.name} {self.pk}: updated {results[0]} rows")
            # As after a flush: nothing pending, not even the "modified" flag that would make
            # the commit's flush look at the row again. (SQLAlchemy's own private step, guarded
            # by tests/integration/test_sqlalchemy_private_api.py.)
            state._commit_all(state.dict, session.identity_map)
            return
        held = state.dict
        # The key, defaults and NULLs the row did not hold: set as the ORM's loader sets them
        # (no events); make_transient_to_detached then marks every value committed.
        for key, value in self.row_values.items():
            if key not in held:
                held[key] = value
        held.update(zip(self.generated, results, strict=True))
        make_transient_to_detached(row)  # as if loaded: persistent once added, nothing pending
        if keep:
            session.add(row)

    @property
    def result_count(self) -> int:
        return 1 if isinstance(self.write, _Update) else len(self.generated)


_PARTS_MAX = 32  # writes a statement: its parameters stay far below PostgreSQL's 32,767
_SHAPES: dict[tuple[Any, ...], Prepared] = {}  # batch statements, apart from the hot reads


async def _send(batch: _Batch, dialect: Dialect, *, keep: bool = True) -> list[Base]:
    """Send the queue; the rows inserted, which are in the session only if `keep`."""
    writes, batch.writes = batch.writes, []
    batch.queued.clear()
    parts: list[_Part] = []
    inserted: list[Base] = []
    for write in writes:
        part = _Part(len(parts), write)  # numbered as sent: the prefixes are part of the shape
        if not part.empty:
            parts.append(part)
        if len(parts) == _PARTS_MAX:
            inserted += await _send_parts(batch, parts, dialect, keep)
            parts = []
    if parts:
        inserted += await _send_parts(batch, parts, dialect, keep)
    return inserted


async def _send_parts(
    batch: _Batch, parts: list[_Part], dialect: Dialect, keep: bool
) -> list[Base]:
    def build() -> Any:
        ctes: list[CTE] = []
        outputs: list[Any] = []
        for part in parts:
            made, returned = part.statements()
            ctes.extend(made)
            outputs.extend(returned)
        return select(*(outputs or [literal_column("1")])).add_cte(*ctes)

    key = ("batch", *(p.shape for p in parts))
    prepared = prepared_statement(key, build, dialect, cache=_SHAPES)
    values = {k: v for part in parts for k, v in part.values.items()}
    found = await batch.driver.fetchrow(prepared.sql, *arguments(prepared, values))
    session = batch.transaction.session
    at = 0
    inserted: list[Base] = []
    for part in parts:
        part.apply(session, found[at : at + part.result_count], keep=keep)
        at += part.result_count
        if isinstance(part.write, _Insert):
            inserted.append(part.write.row)
    if keep:
        batch.inserted += inserted
    return inserted


class StoreSession(Session):
    """The units of work's session: its own queries and flushes send queued writes first."""

    def flush(self, objects: Sequence[Any] | None = None) -> None:
        """Send the queued writes, then flush the ORM's own changes."""
        # Not a before_flush hook: that runs only when the ORM itself has changes to write.
        _send_before(self)
        super().flush(objects)


def _send_before(session: Session) -> None:
    batch = _current(session)
    if batch is not None and batch.failed is not None:
        raise StoreConflictError(detail=str(batch.failed)) from batch.failed
    if batch is not None and batch.writes:
        # Inside the ORM's call (a greenlet of the async session), so the driver can be awaited.
        # It cannot roll back from here: the failure is kept, and flush_writes (the unit of
        # work's commit) rolls back and raises it again instead of committing.
        try:
            await_only(_send(batch, session.get_bind().dialect))
        except IntegrityConstraintViolationError as exc:
            batch.failed = exc
            raise StoreConflictError(detail=str(exc)) from exc
        except Exception as exc:
            batch.failed = exc
            raise


@event.listens_for(StoreSession, "do_orm_execute")
def _before_execute(state: ORMExecuteState) -> None:
    _send_before(state.session)


@event.listens_for(StoreSession, "before_commit")
def _before_commit(session: Session) -> None:
    _send_before(session)


@event.listens_for(StoreSession, "after_soft_rollback")
def _forget_inserted(session: Session, previous: SessionTransaction) -> None:
    # Rows the batch wrote were added as if loaded, so the rollback does not drop them as it
    # drops new rows: without this they would stay in the identity map, pointing at nothing.
    batch: _Batch | None = session.info.get(_BATCH_KEY)
    if batch is None or batch.transaction is not previous:
        return
    del session.info[_BATCH_KEY]
    for row in batch.inserted:
        if row in session:
            session.expunge(row)
