"""Read-only units of work: they read beside an open writer and refuse to commit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import select, update

from core.store.city import BerthRow
from core.store.database import Database
from core.store.unit_of_work import UnitOfWork


async def test_a_reader_does_not_wait_for_an_open_writer(
    database: Database, uow_factory: Callable[[], UnitOfWork]
) -> None:
    async with uow_factory() as writer:
        # The writer holds the write lock (SQLite: BEGIN IMMEDIATE) until it ends.
        await writer.session.execute(
            update(BerthRow).where(BerthRow.code == "HS1-001").values(street="改名路")
        )
        async with UnitOfWork(database.sessions, read_only=True) as reader:
            street = await asyncio.wait_for(
                reader.session.scalar(select(BerthRow.street).where(BerthRow.code == "HS1-001")),
                timeout=2,
            )
        assert street != "改名路"  # the reader sees the last commit, not the open writer
        await writer.rollback()


async def test_a_read_only_unit_refuses_to_commit(database: Database) -> None:
    async with UnitOfWork(database.sessions, read_only=True) as reader:
        with pytest.raises(RuntimeError, match="read-only"):
            await reader.commit()
