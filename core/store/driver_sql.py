"""Hot statements run on PostgreSQL's driver connection: rows written without the ORM's
flush, and plain-column reads without SQLAlchemy's per-execution work.

On this project's hot paths (a lane read, a gateway batch) the ORM flush cost about a
millisecond of CPU per row, the driver's own round trip a tenth of that (docs/performance.md).
On PostgreSQL these functions run SQLAlchemy's own compiled statement, with its own bind
processors, on the asyncpg connection of the unit of work, inside its transaction; the row is
then in the session as if it had been loaded, so a later change is flushed as usual. Elsewhere
(SQLite) they leave the row to the flush.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from asyncpg.exceptions import UniqueViolationError
from sqlalchemy import BindParameter, Table, and_, bindparam, insert, inspect, update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from core.store.base import Base
from core.store.conflicts import StoreConflictError


class _Prepared(NamedTuple):
    sql: str
    names: tuple[str, ...]  # bind names in $1, $2, ... order
    processors: tuple[Callable[[Any], Any] | None, ...]
    constants: dict[str, Any]  # values the statement itself binds (`status == "open"`)


_PREPARED: dict[tuple[str, ...], _Prepared] = {}
_PREPARED_MAX = 512
_DRIVER_KEY = "driver_sql.driver"


def _prepare(key: tuple[Any, ...], build: Callable[[], Any], dialect: Dialect) -> _Prepared:
    # Building a statement costs more CPU than running it: build and compile once per shape.
    found = _PREPARED.get(key)
    if found is None:
        compiled = build().compile(dialect=dialect)
        names = tuple(compiled.positiontup or ())
        binds = [compiled.binds[name] for name in names]
        processors = tuple(bind.type.bind_processor(dialect) for bind in binds)
        constants = {
            n: b.effective_value for n, b in zip(names, binds, strict=True) if not b.required
        }
        if len(_PREPARED) >= _PREPARED_MAX:
            _PREPARED.clear()
        found = _PREPARED[key] = _Prepared(compiled.string, names, processors, constants)
    return found


async def _driver(session: AsyncSession) -> Any | None:
    """The asyncpg connection of the session's transaction, or None on another database."""
    transaction = session.sync_session.get_transaction()
    kept = session.info.get(_DRIVER_KEY)
    if kept is not None and transaction is not None and kept[0] is transaction:
        return kept[1]
    if session.get_bind().dialect.driver != "asyncpg":
        return None
    connection = await session.connection()
    raw = (await connection.get_raw_connection()).driver_connection
    if raw is None:
        return None
    if not raw.is_in_transaction():  # SQLAlchemy's adapter begins on its first statement
        await connection.exec_driver_sql("SELECT 1")
    # Kept for this transaction only: after it the session may hold another connection.
    session.info[_DRIVER_KEY] = (session.sync_session.get_transaction(), raw)
    return raw


def _columns(row: Base) -> tuple[Table, dict[str, Any]]:
    """The row's table and a value for every column (Python defaults applied, else None)."""
    table = row.__table__
    assert isinstance(table, Table)
    state = inspect(row)
    values: dict[str, Any] = {}
    for column in table.columns:
        if column.key in state.dict:
            values[column.key] = state.dict[column.key]
        elif column.primary_key and column.autoincrement is not False:
            continue
        elif column.default is not None and column.default.is_scalar:
            values[column.key] = column.default.arg  # type: ignore[attr-defined]
        elif column.default is not None or column.server_default is not None:
            raise ValueError(f"{table.name}.{column.key}: set it; its default is not a constant")
        else:
            values[column.key] = None
    return table, values


async def insert_row(session: AsyncSession, row: Base, *, key_now: bool = True) -> None:
    """Insert a new row now, with its key; elsewhere add it, and flush if `key_now`."""
    driver = await _driver(session)
    if driver is None:
        session.add(row)
        if not key_now:
            return
        try:
            await session.flush()
        except IntegrityError as exc:
            await session.rollback()
            raise StoreConflictError(detail=str(exc.orig)) from exc
        return
    table, values = _columns(row)
    keys = tuple(sorted(values))
    generated = [c for c in table.primary_key.columns if c.key not in values]
    prepared = _prepare(
        ("insert", table.name, keys),
        lambda: insert(table).values({k: _param(table, k) for k in keys}).returning(*generated),
        session.get_bind().dialect,
    )
    try:
        found = await driver.fetchrow(prepared.sql, *_arguments(prepared, values))
    except UniqueViolationError as exc:
        await session.rollback()
        raise StoreConflictError(detail=str(exc)) from exc
    state = inspect(row)
    for column in generated:
        values[column.key] = found[column.name]
    for key, value in values.items():
        if key not in state.dict:  # the key, defaults and NULLs: what the row did not hold
            setattr(row, key, value)
    make_transient_to_detached(row)  # as if loaded: persistent once added, nothing pending
    session.add(row)


async def write_changes(session: AsyncSession, row: Base) -> None:
    """Write a loaded row's changed columns at once; elsewhere the flush will."""
    driver = await _driver(session)
    if driver is None:
        return
    state = inspect(row)
    table = row.__table__
    assert isinstance(table, Table)
    unmodified = state.unmodified
    changed = {c.key: state.dict[c.key] for c in table.columns if c.key not in unmodified}
    if not changed:
        return
    keys = tuple(sorted(changed))
    pk = [c.key for c in table.primary_key.columns]

    def build() -> Any:
        where = and_(*(table.c[k] == _param(table, k, "pk_") for k in pk))
        return update(table).where(where).values({k: _param(table, k) for k in keys})

    prepared = _prepare(("update", table.name, keys), build, session.get_bind().dialect)
    values = {**changed, **{f"pk_{k}": state.dict[k] for k in pk}}
    status = await driver.execute(prepared.sql, *_arguments(prepared, values))
    if status != "UPDATE 1":  # it was loaded in this transaction, so it exists
        raise LookupError(f"{table.name} {pk}: {status}")
    # As after a flush: nothing pending, not even the "modified" flag that would make the
    # commit's flush look at the row again. (SQLAlchemy's own step; tests pin the behaviour.)
    state._commit_all(state.dict, session.sync_session.identity_map)


async def fetch_one(
    session: AsyncSession, name: str, statement: Any, params: dict[str, Any]
) -> Sequence[Any]:
    """The one row of a plain-column statement built once and named `name` by its module."""
    driver = await _driver(session)
    if driver is None:
        return tuple((await session.execute(statement, params)).one())
    prepared = _prepare(("select", name), lambda: statement, session.get_bind().dialect)
    found = await driver.fetchrow(prepared.sql, *_arguments(prepared, params))
    if found is None:
        raise LookupError(f"{name}: no row")
    return tuple(found)


def _param(table: Table, key: str, prefix: str = "") -> BindParameter[Any]:
    return bindparam(prefix + key, type_=table.c[key].type)


def _arguments(prepared: _Prepared, values: dict[str, Any]) -> list[Any]:
    # None is SQL NULL, as for a column the ORM leaves out (JSON would otherwise say 'null').
    given = {**prepared.constants, **values}
    return [
        value if process is None or value is None else process(value)
        for value, process in zip(
            (given[name] for name in prepared.names), prepared.processors, strict=True
        )
    ]
