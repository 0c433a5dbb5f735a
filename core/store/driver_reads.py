"""Plain-column reads on PostgreSQL's driver connection, rows loaded as the ORM would.

They see this unit of work's queued writes (core.store.write_batch), which go out first.
Elsewhere (SQLite) the statement runs through the session.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Numeric, Table, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, make_transient_to_detached
from sqlalchemy.orm.attributes import QueryableAttribute, instance_dict
from sqlalchemy.sql.elements import ColumnElement

from core.store.base import Base
from core.store.driver_sql import arguments, driver_connection, prepared_statement
from core.store.write_batch import flush_writes


async def fetch_one(
    session: AsyncSession, name: str, statement: Any, params: dict[str, Any]
) -> Sequence[Any]:
    """The one row of a plain-column statement built once and named `name` by its module."""
    driver = await driver_connection(session)
    if driver is None:
        return tuple((await session.execute(statement, params)).one())
    await flush_writes(session)  # the read sees this unit's queued writes
    prepared = prepared_statement(("select", name), lambda: statement, session.get_bind().dialect)
    found = await driver.fetchrow(prepared.sql, *arguments(prepared, params))
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
    driver = await driver_connection(session)
    if driver is None:
        rows: Sequence[Sequence[Any]] = (await session.execute(statement, params)).all()
    else:
        await flush_writes(session)  # the read sees this unit's queued writes
        dialect = session.get_bind().dialect
        prepared = prepared_statement(("select", name), lambda: statement, dialect)
        processors = _result_processors(name, statement, dialect)
        rows = [
            _processed(r, processors)
            for r in await driver.fetch(prepared.sql, *arguments(prepared, params))
        ]
    return [_split(session, row, layout) for row in rows]


Processors = tuple[tuple[int, Callable[[Any], Any]], ...]  # position, processor: the few there are
_RESULTS: dict[str, Processors] = {}


def _result_processors(name: str, statement: Any, dialect: Dialect) -> Processors:
    found = _RESULTS.get(name)
    if found is None:
        each = (_result_processor(c.type, dialect) for c in statement.selected_columns)
        found = _RESULTS[name] = tuple((i, p) for i, p in enumerate(each) if p is not None)
    return found


def _processed(record: Sequence[Any], processors: Processors) -> Sequence[Any]:
    """A row's values as SQLAlchemy would return them (most columns need nothing)."""
    if not processors:
        return record
    row = list(record)
    for at, process in processors:
        if row[at] is not None:
            row[at] = process(row[at])
    return row


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
