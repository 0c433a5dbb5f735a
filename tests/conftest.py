"""Shared fixtures: a migrated demo-city database on SQLite and PostgreSQL, clock, app client."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from config.settings import Settings
from core.clock import FrozenClock
from core.store import migration
from core.store.database import Database, open_database
from core.store.unit_of_work import UnitOfWork

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI)
PG_ADMIN_URL = os.environ.get(
    "PARKING_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def service_missing(name: str, error: Exception) -> None:
    """Fail under CI; elsewhere skip, loudly, naming the missing service."""
    message = f"{name} is not reachable ({error!r})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must run every integration test", pytrace=False)
    print(f"\n*** SKIPPING: {message} ***")
    pytest.skip(f"*** {message}: integration test skipped (CI unset) ***")


def free_port() -> int:
    """A localhost port free at this moment, for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_blocking(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to the end on its own loop, even when called inside a running loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coroutine).result()


async def _seed(url: str) -> None:
    from sandbox.demo_city import load_demo_city

    database = open_database(url)
    try:
        async with database.engine.begin() as connection:
            await migration.upgrade_connection(connection)
        async with UnitOfWork(database.sessions) as uow:
            await load_demo_city(uow, FrozenClock(START))
            await uow.commit()
    finally:
        await database.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file holding the demo city, copied for each test."""
    path = tmp_path_factory.mktemp("db") / "template.db"
    run_blocking(_seed(f"sqlite+aiosqlite:///{path}"))
    return path


def _pg_url(database: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database


async def _pg_admin(*statements: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated PostgreSQL database holding the demo city, cloned for each test."""
    name = f"parking_tpl_{os.getpid()}"
    try:
        run_blocking(_pg_admin(f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"))
    except (OSError, asyncpg.PostgresError) as exc:
        service_missing("PostgreSQL", exc)
    run_blocking(_seed(_pg_url(name).replace("postgresql://", "postgresql+asyncpg://")))
    yield name
    run_blocking(_pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh database with the demo city, on each engine."""
    if request.param == "sqlite":
        path = tmp_path / "parking.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"parking_t_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f"CREATE DATABASE {name} TEMPLATE {template}")
    yield _pg_url(name).replace("postgresql://", "postgresql+asyncpg://")
    await _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    """An open engine on the test database."""
    database = open_database(db_url)
    yield database
    await database.dispose()


@pytest.fixture
def uow_factory(database: Database) -> Callable[[], UnitOfWork]:
    """Make units of work on the test database."""
    return lambda: UnitOfWork(database.sessions)


@pytest.fixture
def clock() -> FrozenClock:
    """A clock at 2026-11-25 09:00 Shanghai time that tests move by hand."""
    return FrozenClock(START)


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Settings pointing at the test database, ignoring the caller's environment."""
    return Settings(database_url=db_url, redis_url=None, mqtt_url=None)


@pytest.fixture
async def client(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any]
) -> TestClient[Any, Any]:
    """The whole application over HTTP."""
    from server.app import create_app

    client: TestClient[Any, Any] = await aiohttp_client(create_app(settings, clock=clock))
    return client
