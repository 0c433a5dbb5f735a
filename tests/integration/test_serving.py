"""Serving for real: `parking serve --workers 2`, and a pool that outlives dropped connections."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from config.settings import Settings
from core.clock import FrozenClock
from core.store.database import open_database
from server.resources import DATABASE_KEY
from server.workers import worker_settings
from tests.conftest import PG_ADMIN_URL, free_port


def test_each_worker_has_its_own_mqtt_ids_and_shares_the_device_topics() -> None:
    settings = Settings(mqtt_client_id="centre-a", workers=3)
    ids = {worker_settings(settings, n).mqtt_client_id for n in range(3)}
    assert ids == {"centre-a-w0", "centre-a-w1", "centre-a-w2"}
    assert {worker_settings(settings, n).mqtt_share_group for n in range(3)} == {"centre"}
    own = Settings(mqtt_share_group="city", workers=2)
    assert worker_settings(own, 1).mqtt_share_group == "city"


async def _pids_answering(base: str, tries: int) -> set[str]:
    seen: set[str] = set()
    async with aiohttp.ClientSession() as session:
        for _ in range(tries):
            # A new connection each time: SO_REUSEPORT spreads connections, not requests.
            async with session.get(f"{base}/healthz", headers={"Connection": "close"}) as answer:
                assert answer.status == 200
                seen.add(str((await answer.json())["worker"]))
    return seen


async def test_two_workers_share_the_port_and_stop_on_sigterm(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'served.db'}"
    port = free_port()
    env = os.environ | {"DATABASE_URL": url, "PARKING_PORT": str(port), "PARKING_WORKERS": "2"}
    env.pop("MQTT_URL", None)
    env.pop("REDIS_URL", None)
    cli = [sys.executable, "-m", "server.cli"]
    migrate = [*cli, "migrate"]
    await asyncio.to_thread(subprocess.run, migrate, env=env, check=True, capture_output=True)
    server = subprocess.Popen([*cli, "serve"], env=env, stderr=subprocess.PIPE)  # noqa: ASYNC220
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if len(await _pids_answering(base, 40)) == 2:
                    break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
        pids = await _pids_answering(base, 60)
        assert len(pids) == 2 and str(server.pid) not in pids
    finally:
        server.send_signal(signal.SIGTERM)
        began = time.monotonic()
        _, errors = await asyncio.to_thread(server.communicate, timeout=30)
    assert server.returncode == 0, errors.decode()
    assert time.monotonic() - began < 20
    assert b"Traceback" not in errors


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_a_pool_without_pre_ping_recovers_when_postgresql_drops_its_connections(
    db_url: str,
) -> None:
    database = open_database(db_url)  # no pre-ping: the default
    name = db_url.rsplit("/", 1)[1]
    try:
        for _ in range(3):
            await database.ping()
        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:
            dropped = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
                name,
            )
        finally:
            await admin.close()
        assert dropped >= 1
        outcomes = []
        for _ in range(6):
            try:
                async with database.engine.connect() as connection:
                    outcomes.append((await connection.execute(text("SELECT 1"))).scalar() == 1)
            except Exception:  # using the dropped connection (asyncpg may raise twice)
                outcomes.append(False)
        assert outcomes.count(False) <= 2 * dropped
        assert outcomes[-3:] == [True, True, True]  # and the pool is whole again
    finally:
        await database.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_a_request_that_finds_every_connection_busy_is_answered_busy(
    settings: Settings, clock: FrozenClock, aiohttp_client: Callable[..., Any]
) -> None:
    from server.app import create_app

    small = settings.model_copy(update={"db_pool_size": 1, "db_pool_timeout_seconds": 0.3})
    client: TestClient[Any, Any] = await aiohttp_client(create_app(small, clock=clock))
    body = {
        "event_id": "busy-1",
        "device": "LOT-HOSP-E1-anpr_camera",
        "device_time": clock.now().isoformat(),
        "plate": "浙B12345",
    }
    async with client.app[DATABASE_KEY].engine.connect() as held:  # the pool's one connection
        await held.execute(text("SELECT 1"))
        answer = await client.post("/devices/lanes/reads", json=body)
        assert answer.status == 503
        assert (await answer.json())["code"] == "busy"
    answer = await client.post("/devices/lanes/reads", json=body)
    assert answer.status == 200, await answer.text()
    assert (await answer.json())["action"] == "open"
