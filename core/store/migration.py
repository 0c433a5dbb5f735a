"""Running alembic migrations from code, on a URL or on an open connection."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

import migrations

SCRIPT_LOCATION = str(Path(migrations.__file__).parent)


def alembic_config(url: str) -> Config:
    """An alembic configuration pointing at the project's migrations."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate a database up, from outside any event loop."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate a database down, from outside any event loop."""
    command.downgrade(alembic_config(url), revision)


async def upgrade_connection(connection: AsyncConnection, revision: str = "head") -> None:
    """Migrate up on an open async connection (tests, running servers)."""
    await connection.run_sync(_upgrade_sync, revision)


async def downgrade_connection(connection: AsyncConnection, revision: str) -> None:
    """Migrate down on an open async connection."""
    await connection.run_sync(_downgrade_sync, revision)


def _upgrade_sync(connection: Connection, revision: str) -> None:
    config = alembic_config(str(connection.engine.url))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _downgrade_sync(connection: Connection, revision: str) -> None:
    config = alembic_config(str(connection.engine.url))
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


def head_revisions() -> frozenset[str]:
    """The revisions a fully migrated database stands at (file reads: call it once)."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory(SCRIPT_LOCATION).get_heads())


def known_revisions() -> frozenset[str]:
    """Every revision this code has a migration for (file reads: call it once)."""
    from alembic.script import ScriptDirectory

    return frozenset(r.revision for r in ScriptDirectory(SCRIPT_LOCATION).walk_revisions())


async def current_revisions(connection: AsyncConnection) -> frozenset[str]:
    """The revisions the database stands at (none before the first migration)."""
    return await connection.run_sync(_current_sync)


def _current_sync(connection: Connection) -> frozenset[str]:
    from alembic.runtime.migration import MigrationContext

    return frozenset(MigrationContext.configure(connection).get_current_heads())
