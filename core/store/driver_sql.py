"""Hot statements run on PostgreSQL's driver connection: rows written without the ORM's
flush, and plain-column reads without SQLAlchemy's per-execution work.

On the lane read, this project's hottest path, the ORM flush cost about a millisecond of CPU
per row, the driver's own round trip a tenth of that (docs/performance.md).
On PostgreSQL these functions run SQLAlchemy's own compiled statement, with its own bind
processors, on the asyncpg connection of the unit of work, inside its transaction; the row is
then in the session as if it had been loaded, so a later change is flushed as usual. Elsewhere
(SQLite) they leave the row to the flush.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, NamedTuple

from asyncpg.exceptions import IntegrityConstraintViolationError
from sqlalchemy import BindParameter, Numeric, Table, and_, bindparam, insert, inspect, update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, make_transient_to_detached
from sqlalchemy.orm.attributes import QueryableAttribute, instance_dict
from sqlalchemy.sql.elements import ColumnElement

from core.store.base import Base
from core.store.conflicts import StoreConflictError


class _Prepared(NamedTuple):
    sql: str
    names: tuple[str, ...]  # bind names in $1, $2, ... order
    processors: tuple[Callable[[Any], Any] | None, ...]
    constants: dict[str, Any]  # values the statement itself binds (`status == "open"`)


_PREPARED: dict[tuple[Any, ...], _Prepared] = {}
_PREPARED_MAX = 512
_DRIVER_KEY = "driver_sql.driver"


def _prepare(key: tuple[Any, ...], build: Callable[[], Any], dialect: Dialect) -> _Prepared:
    # Building a statement costs more CPU than running it: build and compile once per shape.
    found = _PREPARED.get(key)
    if found is None:
        compiled = build().compile(dialect=dialect)
        if "POSTCOMPILE" in compiled.string:  # IN (:list): rendered per execution; not here
            raise ValueError(f"{key}: expanding parameters cannot be prepared once")
        names = tuple(compiled.positiontup or ())
        binds = [compiled.binds[name] for name in names]
        # The dialect's own variant of each type (asyncpg's JSON differs), as SQLAlchemy uses.
        processors = tuple(dialect.type_descriptor(b.type).bind_processor(dialect) for b in binds)
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
    adapted: Any = (await connection.get_raw_connection()).dbapi_connection
    raw = getattr(adapted, "_connection", None)
    if raw is None:
        return None
    if not raw.is_in_transaction():
        # SQLAlchemy's asyncpg adapter begins lazily, on its first statement, and commits or
        # rolls back only what it began: so it must be the one to begin (no extra statement).
        await adapted._start_transaction()
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


@asynccontextmanager
async def _conflicts(session: AsyncSession) -> AsyncIterator[None]:
    """A broken constraint is a conflict, as when the commit meets it (UnitOfWork.commit)."""
    try:
        yield
    except IntegrityConstraintViolationError as exc:
        await session.rollback()
        raise StoreConflictError(detail=str(exc)) from exc


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
    async with _conflicts(session):
        found = await driver.fetchrow(prepared.sql, *_arguments(prepared, values))
    state = inspect(row)
    for column in generated:
        values[column.key] = found[column.name]
    for key, value in values.items():
        if key not in state.dict:  # the key, defaults and NULLs: what the row did not hold
            setattr(row, key, value)
    make_transient_to_detached(row)  # as if loaded: persistent once added, nothing pending
    session.add(row)


async def insert_rows(session: AsyncSession, rows: Sequence[Base]) -> None:
    """Insert new append-only rows of one table in one round trip; elsewhere add them."""
    # Their keys are not read back and the session does not keep them: nothing changes them.
    driver = await _driver(session)
    if driver is None or not rows:
        session.add_all(rows)
        return
    shaped = [_columns(row) for row in rows]
    table = shaped[0][0]
    keys = tuple(sorted(shaped[0][1]))
    if any(t is not table or tuple(sorted(v)) != keys for t, v in shaped):
        raise ValueError("insert_rows takes rows of one table with the same columns set")
    prepared = _prepare(
        ("insert_many", table.name, keys),
        lambda: insert(table).values({k: _param(table, k) for k in keys}),
        session.get_bind().dialect,
    )
    async with _conflicts(session):
        await driver.executemany(prepared.sql, [_arguments(prepared, v) for _, v in shaped])


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
    async with _conflicts(session):
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


Layout = Sequence[type[Base] | int]  # per item: a mapped class's columns, or n plain columns


def layout_columns(
    *items: type[Base] | ColumnElement[Any] | QueryableAttribute[Any],
) -> list[Any]:
    """What to select for a layout: each mapped class's table columns in order, or a column."""
    out: list[Any] = []
    for item in items:
        if isinstance(item, type):
            table = item.__table__
            assert isinstance(table, Table)
            out.extend(table.columns)
        else:
            out.append(item)
    return out


async def fetch_loaded(
    session: AsyncSession, name: str, statement: Any, params: dict[str, Any], layout: Layout
) -> list[tuple[Any, ...]]:
    """Rows of a `layout_columns` statement: rows of the mapped classes come back in the session
    as if a query had loaded them (None when outer-joined away), plain columns as they are."""
    driver = await _driver(session)
    if driver is None:
        rows: Sequence[Sequence[Any]] = (await session.execute(statement, params)).all()
    else:
        prepared = _prepare(("select", name), lambda: statement, session.get_bind().dialect)
        processors = _result_processors(name, statement, session.get_bind().dialect)
        rows = [
            [v if p is None or v is None else p(v) for v, p in zip(r, processors, strict=True)]
            for r in await driver.fetch(prepared.sql, *_arguments(prepared, params))
        ]
    return [_split(session, row, layout) for row in rows]


_RESULTS: dict[str, tuple[Callable[[Any], Any] | None, ...]] = {}


def _result_processors(
    name: str, statement: Any, dialect: Dialect
) -> tuple[Callable[[Any], Any] | None, ...]:
    found = _RESULTS.get(name)
    if found is None:
        found = _RESULTS[name] = tuple(
            _result_processor(c.type, dialect) for c in statement.selected_columns
        )
    return found


def _result_processor(type_: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    adapted = dialect.type_descriptor(type_)  # the dialect's own variant, as SQLAlchemy uses
    if isinstance(adapted, Numeric):
        return None  # asyncpg already returns Decimal for NUMERIC, float for floats
    processor: Callable[[Any], Any] | None = adapted.result_processor(dialect, None)
    return processor


class _Shape(NamedTuple):
    mapper: Mapper[Any]
    keys: tuple[str, ...]  # attribute of each table column, in order
    pk_at: tuple[int, ...]  # positions of the primary key's columns


_SHAPES: dict[type[Base], _Shape] = {}


def _shape(cls: type[Base]) -> _Shape:
    found = _SHAPES.get(cls)
    if found is None:
        mapper = inspect(cls)
        columns = list(mapper.local_table.columns)
        keys = tuple(mapper.get_property_by_column(c).key for c in columns)
        pk_at = tuple(i for i, c in enumerate(columns) if c.primary_key)
        found = _SHAPES[cls] = _Shape(mapper, keys, pk_at)
    return found


def _split(session: AsyncSession, row: Sequence[Any], layout: Layout) -> tuple[Any, ...]:
    out: list[Any] = []
    at = 0
    for item in layout:
        if isinstance(item, int):
            out.extend(row[at : at + item])
            at += item
            continue
        shape = _shape(item)
        out.append(_loaded(session, shape, row[at : at + len(shape.keys)]))
        at += len(shape.keys)
    return tuple(out)


def _loaded(session: AsyncSession, shape: _Shape, values: Sequence[Any]) -> Any:
    key = tuple(values[i] for i in shape.pk_at)
    if any(v is None for v in key):
        return None  # an outer join found nothing
    kept = session.sync_session.identity_map.get(shape.mapper.identity_key_from_primary_key(key))
    if kept is not None:
        return kept  # as a query without populate_existing: the session's copy wins
    row = shape.mapper.class_manager.new_instance()
    instance_dict(row).update(zip(shape.keys, values, strict=True))  # as the ORM's loader does
    make_transient_to_detached(row)  # every value committed, the identity key set
    session.add(row)
    return row


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
