"""Hot statements on PostgreSQL's driver connection, inside the unit of work's transaction.

On the lane read, this project's hottest path, the ORM flush cost about a millisecond of CPU
per row, the driver's own round trip a tenth of that (docs/performance.md). The statements are
SQLAlchemy's own, compiled once per shape, with the dialect's own bind processors; they run
on the asyncpg connection of the unit of work. Writes: core.store.write_batch; reads:
core.store.driver_reads. Elsewhere (SQLite) both leave the work to the ORM.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, NamedTuple

from asyncpg.exceptions import IntegrityConstraintViolationError
from sqlalchemy import BindParameter, Table, bindparam
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import instance_state

from core.store.base import Base
from core.store.conflicts import StoreConflictError


class Prepared(NamedTuple):
    """A statement compiled once: its SQL and how to bind its arguments."""

    sql: str
    names: tuple[str, ...]  # bind names in $1, $2, ... order
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # position, processor: the few
    constants: dict[str, Any]  # values the statement itself binds (`status == "open"`)


_PREPARED: dict[tuple[Any, ...], Prepared] = {}
_PREPARED_MAX = 512
_DRIVER_KEY = "driver_sql.driver"


def prepared_statement(
    key: tuple[Any, ...],
    build: Callable[[], Any],
    dialect: Dialect,
    cache: dict[tuple[Any, ...], Prepared] | None = None,
) -> Prepared:
    """The statement `build` makes, compiled once per `key` (its shape) and kept in `cache`."""
    # Building a statement costs more CPU than running it: build and compile once per shape.
    kept = _PREPARED if cache is None else cache
    found = kept.get(key)
    if found is None:
        compiled = build().compile(dialect=dialect)
        if "POSTCOMPILE" in compiled.string:  # IN (:list): rendered per execution; not here
            raise ValueError(f"{key}: expanding parameters cannot be prepared once")
        names = tuple(compiled.positiontup or ())
        binds = [compiled.binds[name] for name in names]
        # The dialect's own variant of each type (asyncpg's JSON differs), as SQLAlchemy uses.
        each = (dialect.type_descriptor(b.type).bind_processor(dialect) for b in binds)
        processors = tuple((i, p) for i, p in enumerate(each) if p is not None)
        constants = {
            n: b.effective_value for n, b in zip(names, binds, strict=True) if not b.required
        }
        if len(kept) >= _PREPARED_MAX:
            kept.clear()
        found = kept[key] = Prepared(compiled.string, names, processors, constants)
    return found


async def driver_connection(session: AsyncSession) -> Any | None:
    """The asyncpg connection of the session's transaction, or None on another database."""
    transaction = session.sync_session.get_transaction()
    kept = session.info.get(_DRIVER_KEY)
    if kept is not None and transaction is not None and kept[0] is transaction:
        return kept[1]
    if session.get_bind().dialect.driver != "asyncpg":
        return None
    connection = await session.connection()
    pooled = await connection.get_raw_connection()
    adapted: Any = pooled.dbapi_connection
    raw: Any = pooled.driver_connection  # public: the asyncpg connection under the adapter
    if raw is None:
        return None
    if not raw.is_in_transaction():
        # SQLAlchemy's asyncpg adapter begins lazily, on its first statement, and commits or
        # rolls back only what it began: so it must be the one to begin (no extra statement).
        # A private method: tests/integration/test_sqlalchemy_private_api.py guards it.
        await adapted._start_transaction()
    # Kept for this transaction only: after it the session may hold another connection.
    session.info[_DRIVER_KEY] = (session.sync_session.get_transaction(), raw)
    return raw


def row_columns(row: Base) -> tuple[Table, dict[str, Any]]:
    """The row's table and a value for every column (Python defaults applied, else None)."""
    table = row.__table__
    assert isinstance(table, Table)
    held = instance_state(row).dict
    values: dict[str, Any] = {}
    for key, absent in _absent_values(table):
        if key in held:
            values[key] = held[key]
        elif absent is _GENERATED:
            continue
        elif absent is _NOT_CONSTANT:
            raise ValueError(f"{table.name}.{key}: set it; its default is not a constant")
        else:
            values[key] = absent
    return table, values


_GENERATED = object()  # an autoincrement key: the database gives it
_NOT_CONSTANT = object()  # a default the row must not leave to the database or a function
_ABSENT: dict[Table, tuple[tuple[str, Any], ...]] = {}


def _absent_values(table: Table) -> tuple[tuple[str, Any], ...]:
    """Per column, what a row that does not hold it stores: worked out once per table."""
    found = _ABSENT.get(table)
    if found is None:
        plan: list[tuple[str, Any]] = []
        for column in table.columns:
            absent: Any = None
            if column.primary_key and column.autoincrement is not False:
                absent = _GENERATED
            elif column.default is not None and column.default.is_scalar:
                absent = column.default.arg  # type: ignore[attr-defined]
            elif column.default is not None or column.server_default is not None:
                absent = _NOT_CONSTANT
            plan.append((column.key, absent))
        found = _ABSENT[table] = tuple(plan)
    return found


@asynccontextmanager
async def conflicts_rolled_back(session: AsyncSession) -> AsyncIterator[None]:
    """A broken constraint is a conflict, as when the commit meets it (UnitOfWork.commit)."""
    try:
        yield
    except IntegrityConstraintViolationError as exc:
        await session.rollback()
        raise StoreConflictError(detail=str(exc)) from exc


def bind_param(table: Table, key: str, prefix: str = "") -> BindParameter[Any]:
    """A named parameter with the column's type (so its bind processor applies)."""
    return bindparam(prefix + key, type_=table.c[key].type)


def arguments(prepared: Prepared, values: dict[str, Any]) -> list[Any]:
    """The statement's arguments in order, through the bind processors."""
    given = {**prepared.constants, **values} if prepared.constants else values
    out = [given[name] for name in prepared.names]
    # None is SQL NULL, as for a column the ORM leaves out (JSON would otherwise say 'null').
    for at, process in prepared.processors:
        if out[at] is not None:
            out[at] = process(out[at])
    return out
