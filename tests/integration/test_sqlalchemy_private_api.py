"""The SQLAlchemy internals the PostgreSQL write path relies on exist and behave as it assumes.

core.store.driver_sql begins the asyncpg adapter's transaction with its private
`_start_transaction` (a public route costs an extra statement per unit of work), and
core.store.write_batch marks a row written outside the ORM clean with `InstanceState._commit_all`
and awaits the driver inside the ORM's greenlet with `sqlalchemy.util.await_only`. Only the
SQLAlchemy version pinned in pyproject.toml is supported (docs/security.md); these tests say
what breaks when the pin moves.
"""

from __future__ import annotations

import inspect
import re
import tomllib
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy import select
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.orm.state import InstanceState

from core.clock import FrozenClock
from core.store.activity import StayRow
from core.store.database import open_database
from core.store.driver_sql import driver_connection
from core.store.unit_of_work import UnitOfWork
from core.store.write_batch import insert_row
from tests.conftest import _pg_admin, _pg_url

ROOT = Path(__file__).resolve().parents[2]


def _pinned_sqlalchemy() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for spec in project["dependencies"]:
        found = re.match(r"sqlalchemy(\[[^]]*\])?==(\S+)", spec)
        if found:
            return found.group(2)
    raise AssertionError("sqlalchemy is not pinned in pyproject.toml")


def test_the_installed_sqlalchemy_is_the_supported_pin() -> None:
    assert sqlalchemy.__version__ == _pinned_sqlalchemy()


def test_the_private_members_exist_with_the_signatures_used() -> None:
    start = AsyncAdapt_asyncpg_connection._start_transaction
    assert inspect.iscoroutinefunction(start)
    assert list(inspect.signature(start).parameters) == ["self"]
    commit_all = InstanceState._commit_all
    assert list(inspect.signature(commit_all).parameters) == ["self", "dict_", "instance_dict"]
    from sqlalchemy.util import await_only

    assert list(inspect.signature(await_only).parameters) == ["awaitable"]


@pytest.fixture
async def pg_uow_factory(
    request: pytest.FixtureRequest,
) -> AsyncIterator[Callable[[], UnitOfWork]]:
    template = request.getfixturevalue("pg_template")
    name = f"parking_sa_{uuid.uuid4().hex[:12]}"
    await _pg_admin(
        f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name} TEMPLATE {template}"
    )
    database = open_database(_pg_url(name).replace("postgresql://", "postgresql+asyncpg://"))
    yield lambda: UnitOfWork(database.sessions)
    await database.dispose()
    await _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.postgres
async def test_start_transaction_begins_what_the_unit_of_work_commits_or_rolls_back(
    pg_uow_factory: Callable[[], UnitOfWork], clock: FrozenClock
) -> None:
    for commit, expected in ((False, []), (True, ["sa-guard-1"])):
        async with pg_uow_factory() as uow:
            raw = await driver_connection(uow.session)
            assert raw is not None and raw.is_in_transaction()  # begun by the adapter
            adapted = (await (await uow.session.connection()).get_raw_connection()).dbapi_connection
            assert getattr(adapted, "_started", None) is True  # so the adapter ends it
            lot = await uow.city.lot_by_code("LOT-TIANYI")
            assert lot is not None
            # Sent on the driver connection, outside the ORM: only the adapter's transaction
            # holds it, so only the unit of work's commit keeps it.
            stay = StayRow(
                ref="sa-guard-1",
                plate="浙B12345",
                operator_id=lot.operator_id,
                status="open",
                entered_at=clock.now(),
            )
            await insert_row(uow.session, stay)
            if commit:
                await uow.commit()
        async with pg_uow_factory() as uow:
            refs = await uow.session.scalars(select(StayRow.ref).where(StayRow.ref == "sa-guard-1"))
            assert list(refs) == expected


@pytest.mark.postgres
async def test_commit_all_leaves_a_row_clean_as_after_a_flush(
    pg_uow_factory: Callable[[], UnitOfWork], clock: FrozenClock
) -> None:
    async with pg_uow_factory() as uow:
        lot = await uow.city.lot_by_code("LOT-TIANYI")
        assert lot is not None
        stay = StayRow(
            ref="sa-guard-2",
            plate="浙B12345",
            operator_id=lot.operator_id,
            status="open",
            entered_at=clock.now(),
        )
        await insert_row(uow.session, stay)
        stay.status = "closed"
        state = sqlalchemy.inspect(stay)
        assert state.modified and stay in uow.session.dirty
        state._commit_all(state.dict, uow.session.sync_session.identity_map)
        assert not state.modified and stay not in uow.session.dirty
        assert state.committed_state == {}
