"""Engine and session factory for SQLite (embedded) or PostgreSQL (production)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from core.store.write_batch import StoreSession

# Set by a read-only unit of work on its connection (see _begin_immediate).
READ_ONLY_OPTION = "parking_read_only"


@dataclass(frozen=True, slots=True)
class Database:
    """An engine and the session factory bound to it."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    async def ping(self) -> None:
        """Run a trivial query; raises when the database is unreachable."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


@dataclass(frozen=True, slots=True)
class PoolOptions:
    """The connection pool of a server database (SQLite needs none)."""

    size: int = 20
    max_overflow: int = 0
    pre_ping: bool = False
    recycle_seconds: int = 1800
    timeout_seconds: float = 10.0


def open_database(url: str, *, echo: bool = False, pool: PoolOptions | None = None) -> Database:
    """Create the engine for a URL; SQLite gets foreign keys, WAL and a busy timeout."""
    kwargs: dict[str, Any] = {"echo": echo}
    if url.startswith("sqlite"):
        _ensure_sqlite_folder(url)
    else:
        pool = pool or PoolOptions()
        kwargs.update(
            pool_size=pool.size,
            max_overflow=pool.max_overflow,
            pool_pre_ping=pool.pre_ping,
            pool_recycle=pool.recycle_seconds,
            pool_timeout=pool.timeout_seconds,
            # The most recently used connection first: a few stay hot (their prepared
            # statements planned), the rest idle until load needs them.
            pool_use_lifo=True,
        )
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
    sessions = async_sessionmaker(engine, expire_on_commit=False, sync_session_class=StoreSession)
    return Database(engine, sessions)


def _ensure_sqlite_folder(url: str) -> None:
    path = url.split(":///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own implicit BEGIN is switched off so that _begin_immediate decides.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    # A deferred transaction that reads, then writes after another writer committed, fails
    # at once with "database is locked"; taking the write lock up front makes it wait instead.
    # A read-only unit of work never writes, so it reads beside the writer (WAL) instead.
    read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
