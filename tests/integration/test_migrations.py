"""Migrations take an empty database to head and back, and match the models exactly."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from core.store import migration
from core.store.database import open_database
from core.store.tables import Base
from tests.conftest import _pg_admin, _pg_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database on each engine."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    request.getfixturevalue("pg_template")  # fails or skips loudly when PostgreSQL is missing
    name = f"parking_m_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f"CREATE DATABASE {name}")
    yield _pg_url(name).replace("postgresql://", "postgresql+asyncpg://")
    await _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def test_upgrade_matches_models_and_downgrade_empties(empty_db_url: str) -> None:
    database = open_database(empty_db_url)
    try:
        async with database.engine.begin() as connection:
            await migration.upgrade_connection(connection)
        async with database.engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
            assert await connection.run_sync(_tables) == set(Base.metadata.tables)
        async with database.engine.begin() as connection:
            await migration.downgrade_connection(connection, "base")
        async with database.engine.connect() as connection:
            assert await connection.run_sync(_tables) == set()
        async with database.engine.begin() as connection:
            await migration.upgrade_connection(connection)
        async with database.engine.connect() as connection:
            assert await connection.run_sync(_tables) == set(Base.metadata.tables)
    finally:
        await database.dispose()
