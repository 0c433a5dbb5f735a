"""Alembic environment: async engines, or a connection handed in by the caller."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from core.store.base import JSONDocument, UTCDateTime
from core.store.database import open_database
from core.store.tables import Base

config = context.config
target_metadata = Base.metadata


def _render_item(kind: str, item: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render the project's column types by name, so migrations import them plainly."""
    if kind == "type" and isinstance(item, UTCDateTime):
        return "core.store.base.UTCDateTime()"
    if kind == "type" and item is JSONDocument:
        return "core.store.base.JSONDocument"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    database = open_database(url)
    async with database.engine.begin() as connection:
        await connection.run_sync(_run)
    await database.dispose()


def run_migrations_online() -> None:
    """Use the caller's connection when given one, else open the configured database."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    asyncio.run(_run_async(config.get_main_option("sqlalchemy.url") or ""))


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
