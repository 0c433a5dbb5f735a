"""Dedupe keys are scoped by kind and device; keys stored before the change still dedupe."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select, text

from core.store import migration
from core.store.activity import DeviceEventRow, StayRow
from core.store.database import open_database
from core.store.unit_of_work import UnitOfWork
from device_bridge.formats import own_json
from tests.conftest import _pg_admin, _pg_url

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "devices"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


async def test_a_heartbeat_id_does_not_swallow_a_berth_event(
    client: TestClient[Any, Any],
) -> None:
    beat = fixture("own/heartbeat.json") | {"event_id": "42"}
    occupied = fixture("own/berth_occupied.json") | {"event_id": "42"}
    assert (await client.post("/devices/heartbeats", json=beat)).status == 200
    answer = await client.post("/devices/sensors/events", json=occupied)
    assert answer.status == 200, await answer.text()
    body = await answer.json()
    assert body["outcome"] == "applied" and body["stay_ref"]
    again = await (await client.post("/devices/sensors/events", json=occupied)).json()
    assert again["outcome"] == "duplicate"
    fault = fixture("own/fault.json") | {"event_id": "42"}
    assert (await (await client.post("/devices/faults", json=fault)).json())["outcome"] == (
        "applied"
    )


def test_keys_name_the_kind_and_long_ones_still_fit() -> None:
    occupied = own_json.parse(fixture("own/berth_occupied.json"))
    beat = own_json.parse_heartbeat(fixture("own/heartbeat.json") | {"event_id": "5821"})
    assert occupied.dedupe_key == "own:berth:MAG-HS1-003:5821"
    assert beat.dedupe_key == "own:heartbeat:MAG-HS1-003:5821"
    long = fixture("own/berth_occupied.json") | {"device": "D" * 64, "event_id": "E" * 64}
    key = own_json.parse(long).dedupe_key
    assert len(key) <= 128 and key.startswith("own:berth:sha256:")
    assert own_json.parse(dict(long)).dedupe_key == key


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def old_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database on each engine."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        return
    request.getfixturevalue("pg_template")  # fails or skips loudly when PostgreSQL is missing
    name = f"parking_k_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f"CREATE DATABASE {name}")
    yield _pg_url(name).replace("postgresql://", "postgresql+asyncpg://")
    await _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


OLD_ROWS = [
    ("own:MAG-HS1-003:5821", "berth_occupied"),
    ("own:MAG-HS1-003:hb-1", "heartbeat"),
    ("own:MAG-HS1-003:f-1", "fault"),
    ("own:LOT-X-gate:g-1", "gate_opened"),
    ("huawei-vias:stream-1:d-1", "plate_read"),
]


async def test_stored_keys_are_rewritten_so_resends_still_dedupe(old_db_url: str) -> None:
    database = open_database(old_db_url)
    try:
        async with database.engine.begin() as connection:
            await migration.upgrade_connection(connection, "0020_chat")
            at = datetime(2026, 11, 25, 1, 0, tzinfo=UTC).replace(tzinfo=None)
            for key, kind in OLD_ROWS:
                await connection.execute(
                    text(
                        "INSERT INTO device_events (dedupe_key, vendor, device_code, kind, "
                        "device_time, received_at, payload, outcome) VALUES "
                        "(:key, :vendor, 'D', :kind, :at, :at, '{}', 'applied')"
                    ),
                    {"key": key, "vendor": key.split(":")[0], "kind": kind, "at": at},
                )
        async with database.engine.begin() as connection:
            await migration.upgrade_connection(connection)
        async with UnitOfWork(database.sessions) as uow:
            keys = set((await uow.session.scalars(select(DeviceEventRow.dedupe_key))).all())
            resent = own_json.parse(fixture("own/berth_occupied.json")).dedupe_key
            assert resent in keys
            assert await uow.events.exists(resent)
            assert await uow.session.scalar(select(StayRow.id).limit(1)) is None
        assert keys == {
            "own:berth:MAG-HS1-003:5821",
            "own:heartbeat:MAG-HS1-003:hb-1",
            "own:fault:MAG-HS1-003:f-1",
            "own:gate:LOT-X-gate:g-1",
            "huawei-vias:stream-1:d-1",
        }
        async with database.engine.begin() as connection:
            await migration.downgrade_connection(connection, "0020_chat")
            back = set(
                (await connection.execute(text("SELECT dedupe_key FROM device_events"))).scalars()
            )
        assert back == {key for key, _ in OLD_ROWS}
    finally:
        await database.dispose()
