"""A morning's device traffic while Redis, Mosquitto and PostgreSQL are killed and restarted,
every event sent three times in shuffled orders: nothing lost, nothing charged twice, the ledger
balanced, the ordered stream's stays, availability answering throughout."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select, text

from config.settings import Settings
from core.clock import FrozenClock
from core.services.calendar import OverridableCalendar
from core.store.activity import DeviceEventRow, StayRow
from core.store.city import BerthRow
from core.store.database import Database, open_database
from core.store.unit_of_work import UnitOfWork
from device_bridge.formats import own_json
from device_bridge.intake import Intake, berth_rules
from device_bridge.lane_publisher import COMMAND_ROOT
from device_bridge.mqtt import CONSUMER_KEY
from server.availability import AVAILABILITY_KEY, stored_berths
from server.availability_fallback import FallbackAvailability
from server.resources import DATABASE_KEY
from tests.conftest import START, _seed, run_blocking, service_missing
from tests.faults.traffic import Event, morning
from tests.own_services import (
    MosquittoServer,
    PrivatePostgres,
    RedisServer,
    mosquitto_available,
    redis_available,
)

pytestmark = [pytest.mark.redis, pytest.mark.mqtt, pytest.mark.postgres]


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL of this test's own holding the demo city."""
    try:
        server = PrivatePostgres()
    except (OSError, subprocess.CalledProcessError) as exc:
        service_missing("a private PostgreSQL (initdb)", exc)
    try:
        server.start()
        run_blocking(_seed(server.url("postgres")))
        yield server
    finally:
        server.remove()


SEED = 19
CHUNK = 12  # messages in flight at once


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own."""
    if not redis_available():
        service_missing("redis-server", FileNotFoundError("redis-server"))
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def mosquitto() -> Iterator[MosquittoServer]:
    """A Mosquitto of this test's own, as deploy/mosquitto.conf configures it."""
    if not mosquitto_available():
        service_missing("Mosquitto", FileNotFoundError("mosquitto"))
    server = MosquittoServer()
    server.start()
    yield server
    server.remove()


@dataclass
class Figures:
    """What the run did, printed at the end (docs/reliability.md quotes it)."""

    sends: int = 0
    refused_by_a_down_broker: int = 0
    http_errors: int = 0
    availability_reads: int = 0
    availability_errors: int = 0
    availability_from_database: int = 0
    lane_reads_while_broker_down: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


class Devices:
    """The city's devices: HTTP ones post, MQTT ones publish; a publish the broker refuses is
    counted, as a device would keep it to send again."""

    def __init__(self, client: TestClient[Any, Any], port: int, figures: Figures) -> None:
        self._client = client
        self._port = port
        self._figures = figures
        self._mqtt: aiomqtt.Client | None = None
        self._lock = asyncio.Lock()

    async def send(self, event: Event) -> None:
        self._figures.sends += 1
        if event.transport == "http":
            answer = await self._client.post(event.path, json=event.body)
            self._figures.statuses[answer.status] = self._figures.statuses.get(answer.status, 0) + 1
            if answer.status != 200:
                self._figures.http_errors += 1
            return
        async with self._lock:
            try:
                if self._mqtt is None:
                    mqtt = aiomqtt.Client("127.0.0.1", self._port, identifier="devices", timeout=3)
                    await mqtt.__aenter__()
                    self._mqtt = mqtt
                await self._mqtt.publish(event.path, json.dumps(event.body).encode(), qos=1)
            except aiomqtt.MqttError:
                self._figures.refused_by_a_down_broker += 1
                await self.close()

    async def close(self) -> None:
        mqtt, self._mqtt = self._mqtt, None
        if mqtt is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await mqtt.__aexit__(None, None, None)


async def station(port: int, opened: list[str], stop: asyncio.Event) -> None:
    """The entry lane's station: a persistent session, reconnecting, counting open_gate."""
    while not stop.is_set():
        try:
            async with aiomqtt.Client(
                "127.0.0.1", port, identifier="station-e1", clean_session=False
            ) as client:
                await client.subscribe(f"{COMMAND_ROOT}/LOT-HOSP/E1", qos=1)
                async for message in client.messages:
                    assert isinstance(message.payload, bytes)
                    if json.loads(message.payload)["kind"] == "open_gate":
                        opened.append(message.topic.value)
        except aiomqtt.MqttError:
            await asyncio.sleep(0.3)


async def read_availability(
    client: TestClient[Any, Any], figures: Figures, stop: asyncio.Event
) -> None:
    """A guidance screen asking all along; every answer must be a 200."""
    while not stop.is_set():
        answer = await client.get("/mp/availability", params={"zone": "HS1"})
        figures.availability_reads += 1
        if answer.status != 200:
            figures.availability_errors += 1
        await asyncio.sleep(0.05)


def lane_read(clock: FrozenClock, n: int) -> dict[str, Any]:
    return {
        "event_id": f"fault-lane-{n}",
        "device": "LOT-HOSP-E1-anpr_camera",
        "device_time": clock.now().isoformat(),
        "plate": f"浙B9{n:04d}",
    }


async def send_all(devices: Devices, events: list[Event]) -> None:
    for start in range(0, len(events), CHUNK):
        await asyncio.gather(*(devices.send(e) for e in events[start : start + CHUNK]))


async def stored_keys(database: Database) -> list[str]:
    async with database.sessions() as session:
        return list((await session.scalars(select(DeviceEventRow.dedupe_key))).all())


async def street_stays(database: Database) -> list[tuple[Any, ...]]:
    query = (
        select(
            BerthRow.code,
            StayRow.plate,
            StayRow.entered_at,
            StayRow.exited_at,
            StayRow.status,
            StayRow.fee_fen,
        )
        .join(BerthRow, BerthRow.id == StayRow.berth_id)
        .where(StayRow.lot_id.is_(None))
        .order_by(BerthRow.code, StayRow.entered_at)
    )
    async with database.sessions() as session:
        return [tuple(row) for row in (await session.execute(query)).all()]


async def ordered_reference(
    template: Path, folder: Path, events: list[Event]
) -> list[tuple[Any, ...]]:
    """The stays the same events give sent once each, in device-time order, with no faults."""
    return await replay(template, folder, sorted(events, key=lambda e: (e.moment, e.kind)))


async def replay(template: Path, folder: Path, events: list[Event]) -> list[tuple[Any, ...]]:
    """The stays events give sent once each, in the order given, one at a time, no faults."""
    path = folder / "replay.db"
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(shutil.copyfile, template, path)
    database = open_database(f"sqlite+aiosqlite:///{path}")
    try:
        clock = FrozenClock(START)
        intake = Intake(
            database, clock, OverridableCalendar(), berth_rules(Settings()), None, folder
        )
        for event in events:
            if event.kind == "berth":
                await intake.take(own_json.parse(event.body))
            else:
                await intake.take(own_json.parse_heartbeat(event.body))
        return await street_stays(database)
    finally:
        await database.dispose()


async def ledger_checks(database: Database) -> tuple[int, int, list[Any], list[Any]]:
    """Total debits and credits, unbalanced entries, plates charged other than their fees."""
    async with database.sessions() as session:
        debit, credit = (
            await session.execute(
                text(
                    "SELECT coalesce(sum(debit_fen), 0), coalesce(sum(credit_fen), 0) "
                    "FROM ledger_postings"
                )
            )
        ).one()
        unbalanced = (
            await session.execute(
                text(
                    "SELECT entry_id FROM ledger_postings GROUP BY entry_id "
                    "HAVING sum(debit_fen) <> sum(credit_fen)"
                )
            )
        ).all()
        charged = (
            await session.execute(
                text(
                    "SELECT substr(account, 19) AS plate, sum(debit_fen) - sum(credit_fen) "
                    "FROM ledger_postings WHERE account LIKE 'driver_receivable:%' GROUP BY plate"
                )
            )
        ).all()
        fees = (
            await session.execute(
                text(
                    "SELECT plate, sum(fee_fen) FROM stays WHERE status = 'closed' "
                    "AND lot_id IS NULL GROUP BY plate"
                )
            )
        ).all()
    by_plate = {plate: int(total) for plate, total in fees if total}
    wrong = [
        (plate, int(net), by_plate.get(plate, 0))
        for plate, net in charged
        if int(net) != by_plate.get(plate, 0)
    ]
    charged_plates = {str(row[0]) for row in charged}
    wrong += [(plate, 0, fee) for plate, fee in by_plate.items() if plate not in charged_plates]
    return int(debit), int(credit), list(unbalanced), wrong


async def eventually_stored(database: Database, expected: set[str], seconds: float) -> list[str]:
    keys: list[str] = []
    for _ in range(int(seconds * 5)):
        keys = await stored_keys(database)
        if expected <= set(keys):
            break
        await asyncio.sleep(0.2)
    return keys


async def test_a_morning_survives_database_broker_and_cache_faults(
    postgres: PrivatePostgres,
    sqlite_template: Path,
    tmp_path: Path,
    redis_server: RedisServer,
    mosquitto: MosquittoServer,
    aiohttp_client: Callable[..., Any],
) -> None:
    from server.app import create_app

    settings = Settings(
        database_url=postgres.url("postgres"),
        redis_url=redis_server.url,
        mqtt_url=mosquitto.url,
        mqtt_client_id=f"centre-{uuid.uuid4().hex[:8]}",
        availability_refresh_seconds=3600,  # only the fallback's own refill repairs Redis
        lane_outbox_poll_seconds=0.2,
        image_dir=str(tmp_path / "images"),
    )
    clock = FrozenClock(START)
    client: TestClient[Any, Any] = await aiohttp_client(create_app(settings, clock=clock))
    database = client.app[DATABASE_KEY]
    await asyncio.wait_for(client.app[CONSUMER_KEY].connected.wait(), 10)
    figures = Figures()
    devices = Devices(client, mosquitto.port, figures)
    events = morning(SEED)
    stop = asyncio.Event()
    opened: list[str] = []
    watchers = [
        asyncio.create_task(station(mosquitto.port, opened, stop)),
        asyncio.create_task(read_availability(client, figures, stop)),
    ]
    try:
        first = events[:]
        random.Random(SEED).shuffle(first)
        fifth = len(first) // 5
        await send_all(devices, first[:fifth])
        redis_server.kill()  # mid-traffic: events keep coming, screens keep asking
        await send_all(devices, first[fifth : 2 * fifth])
        redis_server.start()  # empty: no dump
        await send_all(devices, first[2 * fifth : 3 * fifth])
        mosquitto.kill()  # with what it acknowledged in the last second
        await send_all(devices, first[3 * fifth : 4 * fifth])
        for n in range(4):  # decisions made while the broker is down
            answer = await client.post("/devices/lanes/reads", json=lane_read(clock, n))
            assert (await answer.json())["gate"] == "open"
            figures.lane_reads_while_broker_down += 1
        mosquitto.start()
        await send_all(devices, first[4 * fifth : 4 * fifth + fifth // 2])
        postgres.kill()  # a crash: the app answers 5xx, the MQTT consumer retries
        await send_all(devices, first[4 * fifth + fifth // 2 : 4 * fifth + fifth // 2 + CHUNK])
        await asyncio.sleep(1)
        postgres.start()  # recovers from its WAL
        await send_all(devices, first[4 * fifth + fifth // 2 + CHUNK :])
        for seed in (SEED + 1, SEED + 2):  # every device sends everything again, twice
            again = events[:]
            random.Random(seed).shuffle(again)
            await send_all(devices, again)
        expected = {e.key for e in events}
        keys = await eventually_stored(database, expected, 60)
        for _ in range(200):  # the outbox's commands reach the lane
            if len(opened) >= figures.lane_reads_while_broker_down:
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await devices.close()
        for task in watchers:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # Nothing lost, nothing stored twice; a heartbeat never swallowed its berth event twin.
    assert set(keys) >= expected, f"lost: {sorted(expected - set(keys))[:5]}"
    assert len(keys) == len(set(keys))
    # The same stays (berth, plate, times, status) as the ordered stream, sent once, gives.
    # Their fees too, once arrival order no longer changes fees: see
    # test_fees_do_not_depend_on_arrival_order (issue 19, "Wrong plate, wrong fee").
    stays = await street_stays(database)
    reference = await ordered_reference(sqlite_template, tmp_path, events)
    assert len(reference) == 60 * 3
    assert [s[:5] for s in stays] == [r[:5] for r in reference]
    other_fees = sum(1 for s, r in zip(stays, reference, strict=True) if s[5] != r[5])
    # The ledger balances, and each plate owes exactly its stays' fees.
    debit, credit, unbalanced, wrong = await ledger_checks(database)
    assert debit == credit and unbalanced == [] and wrong == []
    # Availability answered throughout and matches the database; Redis is warm again.
    assert figures.availability_errors == 0 and figures.availability_reads > 0
    store = client.app[AVAILABILITY_KEY]
    assert isinstance(store, FallbackAvailability)
    figures.availability_from_database = store.fallbacks
    async with UnitOfWork(database.sessions) as uow:
        truth = sorted(await stored_berths(uow, clock.now()), key=lambda b: b.code)
    live = await store.berths()
    assert [(b.code, b.occupied, b.closed) for b in live] == [
        (b.code, b.occupied, b.closed) for b in truth
    ]
    assert store.fallbacks >= 1  # the outage really was served by the database
    # Lane commands made while the broker was down reached the lane; none wait any more.
    async with database.sessions() as session:
        waiting = await session.scalar(text("SELECT count(*) FROM lane_outbox"))
    assert waiting == 0
    assert len(opened) >= figures.lane_reads_while_broker_down
    print(
        "\nFAULT RUN:",
        json.dumps(
            {
                "unique_events": len(expected),
                "sends": figures.sends,
                "refused_by_down_broker": figures.refused_by_a_down_broker,
                "http_statuses": figures.statuses,
                "stored": len(keys),
                "lost": len(expected - set(keys)),
                "stored_twice": len(keys) - len(set(keys)),
                "stays": len(stays),
                "stays_priced_unlike_the_ordered_stream": other_fees,
                "fees_fen": sum(s[5] or 0 for s in stays),
                "ledger_debit_fen": debit,
                "ledger_credit_fen": credit,
                "availability_reads": figures.availability_reads,
                "availability_errors": figures.availability_errors,
                "availability_from_database": figures.availability_from_database,
                "lane_reads_while_broker_down": figures.lane_reads_while_broker_down,
                "open_gate_received": len(opened),
            },
            ensure_ascii=False,
        ),
    )


async def test_fees_do_not_depend_on_arrival_order(sqlite_template: Path, tmp_path: Path) -> None:
    events = morning(SEED)
    ordered = await ordered_reference(sqlite_template, tmp_path / "a", events)
    shuffled = events[:]
    random.Random(SEED).shuffle(shuffled)
    arrived = await replay(sqlite_template, tmp_path / "b", shuffled)
    assert [s[:5] for s in arrived] == [s[:5] for s in ordered]
    assert arrived == ordered
