"""Benchmark sensor events into the store: `python -m bench.sensor_events`.

Targets (PRODUCT.md, issue 20): 2,000 single events a second (one event a request or message,
64 devices at once) and 10,000 a second in gateway batches, sustained into the store with zero
loss. The server runs in its own process(es) on a fresh PostgreSQL database holding the demo
city plus `--berths` extra berths; this process sends occupied and vacated events (each berth's
events in device-time order, berths interleaved) over HTTP with `--concurrency` requests in
flight, then publishes them over MQTT with as many publishes in flight (QoS 1, to a Mosquitto
started for the run with `max_queued_messages 0`) and waits until the store holds them all.
Then the same again as gateway batches (`--batch` events a message or request, one transaction
each): berths belong to gateways of 100 berths, each gateway sends its batches in order,
gateways in parallel. Before the measured phases, `--warmup` events go in as batches and the
database is analysed, as autovacuum keeps a live one (a fresh database's empty statistics give
plans production would not run). Each phase prints events/s and the count stored against the
count sent. Baseline: `GET /healthz` (one `SELECT 1`) requests/s against the same server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import aiomqtt
import asyncpg

from bench._server import cpu_seconds, free_port, machine_speed, start_server, wait_up
from core.services.berth_events import DEFAULT_RULES

SINGLE_TARGET = 2000.0  # events a second, one a request or message
BATCH_TARGET = 10000.0  # events a second in gateway batches
ADMIN_URL = os.environ.get("PARKING_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _start_broker(port: int) -> subprocess.Popen[bytes]:
    """A Mosquitto of the bench's own that never drops queued QoS 1 messages."""
    folder = tempfile.mkdtemp(prefix="bench-mqtt-")
    config = os.path.join(folder, "mosquitto.conf")
    with open(config, "w") as file:
        file.write(
            f"listener {port} 127.0.0.1\nallow_anonymous true\n"
            "max_queued_messages 0\nmax_inflight_messages 100\n"
        )
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    broker = subprocess.Popen([binary, "-c", config], stderr=subprocess.DEVNULL)
    for _ in range(100):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return broker
        time.sleep(0.05)
    raise RuntimeError("mosquitto did not start")


async def _prepare(database: str, berths: int) -> str:
    """Create, migrate and seed a fresh database; return its SQLAlchemy URL."""
    from core.clock import SystemClock
    from core.store import migration
    from core.store.city import BerthRow, DeviceRow, ZoneRow
    from core.store.database import open_database
    from core.store.unit_of_work import UnitOfWork
    from sandbox.demo_city import load_demo_city

    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    await admin.execute(f"CREATE DATABASE {database}")
    await admin.close()
    url = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = f"{url}/{database}"
    store = open_database(url)
    async with store.engine.begin() as connection:
        await migration.upgrade_connection(connection)
    async with UnitOfWork(store.sessions) as uow:
        await load_demo_city(uow, SystemClock())
        await uow.session.flush()
        zone = (await uow.session.execute(ZoneRow.__table__.select().limit(1))).first()
        assert zone is not None
        for n in range(berths):
            berth = BerthRow(
                code=f"BN-{n:05d}",
                zone_id=zone.id,
                street="压测路",
                lat=Decimal("29.87"),
                lng=Decimal("121.55"),
            )
            uow.session.add(berth)
            await uow.session.flush()
            uow.session.add(
                DeviceRow(
                    code=f"MAG-BN-{n:05d}", kind="berth_sensor", vendor="own", berth_id=berth.id
                )
            )
        await uow.commit()
    await store.dispose()
    return url


def _events(
    run: str,
    berths: int,
    count: int,
    start: datetime,
    minutes: int = 20,
    done: list[int] | None = None,
) -> list[dict[str, Any]]:
    """Occupied and vacated events, `minutes` apart per berth, berths interleaved; `done` counts
    each berth's events of earlier phases, so that a berth goes on from where it was."""
    done = done if done is not None else [0] * berths
    events = []
    for i in range(count):
        berth, step = i % berths, i // berths
        occupied = done[berth] % 2 == 0
        done[berth] += 1
        event: dict[str, Any] = {
            "event_id": f"{run}-{i}",
            "device": f"MAG-BN-{berth:05d}",
            "berth": f"BN-{berth:05d}",
            "state": "occupied" if occupied else "vacated",
            "device_time": (start + timedelta(minutes=minutes * step)).isoformat(),
        }
        if occupied:
            event["plate"] = f"浙B{berth % 100000:05d}"
        events.append(event)
    return events


async def _analyze(url: str) -> None:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def _count(url: str, run: str) -> int:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        found = await connection.fetchval(
            "SELECT count(*) FROM device_events WHERE dedupe_key LIKE $1",
            f"own:berth:MAG-BN-%:{run}-%",
        )
        return int(found)
    finally:
        await connection.close()


async def _http(base: str, events: list[dict[str, Any]], concurrency: int) -> tuple[float, int]:
    slots = asyncio.Semaphore(concurrency)
    failures = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post(event: dict[str, Any]) -> None:
            nonlocal failures
            async with slots, session.post(f"{base}/devices/sensors/events", json=event) as r:
                await r.read()
                failures += r.status != 200

        began = time.perf_counter()
        await asyncio.gather(*(post(e) for e in events))
        return time.perf_counter() - began, failures


def _gateway_batches(
    events: list[dict[str, Any]], size: int
) -> dict[str, list[list[dict[str, Any]]]]:
    """Events grouped by gateway (100 berths each), in order, cut into batches."""
    by_gateway: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        gateway = f"GW-{int(event['berth'].rsplit('-', 1)[1]) // 100:03d}"
        by_gateway.setdefault(gateway, []).append(event)
    return {
        gateway: [queue[i : i + size] for i in range(0, len(queue), size)]
        for gateway, queue in by_gateway.items()
    }


async def _http_batches(base: str, events: list[dict[str, Any]], size: int) -> tuple[float, int]:
    failures = 0
    async with aiohttp.ClientSession() as session:

        async def gateway(batches: list[list[dict[str, Any]]]) -> None:
            nonlocal failures
            for batch in batches:
                url = f"{base}/devices/sensors/events/batch"
                async with session.post(url, json={"events": batch}) as response:
                    body = await response.json()
                    failures += response.status != 200 or any(
                        r["outcome"] == "refused" for r in body.get("results", [{}])
                    )

        began = time.perf_counter()
        await asyncio.gather(*(gateway(b) for b in _gateway_batches(events, size).values()))
        return time.perf_counter() - began, failures


async def _healthz(base: str, requests: int, concurrency: int) -> float:
    slots = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:

        async def get() -> None:
            async with slots, s.get(f"{base}/healthz") as response:
                await response.read()

        began = time.perf_counter()
        await asyncio.gather(*(get() for _ in range(requests)))
        return requests / (time.perf_counter() - began)


async def _mqtt(
    port: int,
    url: str,
    run: str,
    events: list[dict[str, Any]],
    batch: int = 0,
    concurrency: int = 64,
) -> float:
    began = time.perf_counter()
    async with aiomqtt.Client(
        "127.0.0.1", port, identifier=f"bench-{run}", max_inflight_messages=1000
    ) as client:
        if batch:
            gateways = _gateway_batches(events, batch)
            for round_ in range(max(len(b) for b in gateways.values())):
                for gateway, batches in gateways.items():
                    if round_ < len(batches):
                        topic = f"parking/v1/gateways/{gateway}/events"
                        body = json.dumps({"events": batches[round_]}).encode()
                        await client.publish(topic, body, qos=1)
        # Devices publish at once, not one after another: `publish` waits for the broker's
        # PUBACK, so a loop of them measured the round trip to the broker, not the centre.
        slots = asyncio.Semaphore(concurrency)
        client.pending_calls_threshold = concurrency  # as many pending as asked, not a warning

        async def single(event: dict[str, Any]) -> None:
            async with slots:
                topic = f"parking/v1/sensors/{event['device']}/events"
                await client.publish(topic, json.dumps(event).encode(), qos=1)

        await asyncio.gather(*(single(e) for e in ([] if batch else events)))
    while await _count(url, run) < len(events):
        if time.perf_counter() - began > 600:
            break
        await asyncio.sleep(0.2)
    return time.perf_counter() - began


async def run(args: argparse.Namespace) -> int:
    print(f"machine speed probe: {machine_speed():.0f} µs (lower is faster)")
    database = f"parking_bench_{os.getpid()}"
    url = await _prepare(database, args.berths)
    port, mqtt_port = free_port(), free_port()
    broker = _start_broker(mqtt_port) if args.skip_mqtt != "mqtt" else None
    env = os.environ | {
        "DATABASE_URL": url,
        "PARKING_MQTT_CLIENT_ID": f"bench-centre-{uuid.uuid4().hex[:6]}",
        "PARKING_SENSOR_FLICKER_SECONDS": "60",
    }
    if args.skip_mqtt != "mqtt":
        env["MQTT_URL"] = f"mqtt://127.0.0.1:{mqtt_port}"
    server = start_server(port, env, args.workers)
    base = f"http://127.0.0.1:{port}"
    missed = False
    try:
        await wait_up(base, args.workers)
        baseline = await _healthz(base, 4000, args.concurrency)
        print(f"baseline GET /healthz: {baseline:,.0f} requests/s")
        run_id = uuid.uuid4().hex[:6]
        phases = [("HTTP", 0), ("HTTP batches", args.batch)]
        if args.skip_mqtt != "mqtt":
            phases += [("MQTT", 0), ("MQTT batches", args.batch)]
        # A live city's tables hold history and have planner statistics (autovacuum analyses
        # them); a fresh database has neither, and its plans are not the ones production
        # would run. Every stay ends.
        pairs = max(args.warmup // (2 * args.berths), 1) * 2 * args.berths if args.warmup else 0
        counts = [args.events if batch else args.single_events for _, batch in phases]
        steps = [-(-count // args.berths) for count in [pairs, *counts]]
        # All of it inside the hours the timeline looks back (events older are held for a
        # human, as a lost device clock would be: a bench dated months ago measured only that).
        minutes = min(20, (DEFAULT_RULES.lookback_hours - 2) * 60 // max(sum(steps), 1))
        start = datetime.now(UTC) - timedelta(minutes=minutes * sum(steps) + 30)
        done = [0] * args.berths  # events a berth has had so far: the next one alternates
        if pairs:
            warm = _events(f"w{run_id}", args.berths, pairs, start, minutes, done)
            await _http_batches(base, warm, args.batch)
            await _analyze(url)
            print(f"warm-up: {len(warm)} events in batches, then ANALYZE")
        print(f"events {minutes} minutes apart on a berth, the newest 30 minutes old")
        for n, (name, batch) in enumerate(phases):
            tag = f"{'hm'[name.startswith('MQTT')]}{n}{run_id}"
            count = counts[n]
            begins = start + timedelta(minutes=minutes * sum(steps[: n + 1]))
            events = _events(tag, args.berths, count, begins, minutes, done)
            failures = 0
            cpu_before = cpu_seconds(server.pid)
            if name == "HTTP":
                seconds, failures = await _http(base, events, args.concurrency)
            elif name == "HTTP batches":
                seconds, failures = await _http_batches(base, events, batch)
            else:
                seconds = await _mqtt(mqtt_port, url, tag, events, batch, args.concurrency)
            stored = await _count(url, tag)
            cpu_ms = 1000 * (cpu_seconds(server.pid) - cpu_before) / len(events)
            rate = len(events) / seconds
            target = BATCH_TARGET if batch else SINGLE_TARGET
            missed |= stored != len(events) or rate < target
            print(
                f"{name}{f' of {batch}' if batch else ''}: {len(events)} events in "
                f"{seconds:.1f} s = {rate:,.0f} events/s (ratio to baseline "
                f"{rate / baseline:.2f}); sent {len(events)}, stored {stored}, failed {failures}; "
                f"centre CPU {cpu_ms:.2f} ms an event; target {target:,.0f}/s"
            )
    finally:
        server.terminate()
        server.wait(30)
        if broker is not None:
            broker.terminate()
            broker.wait(30)
        admin = await asyncpg.connect(ADMIN_URL)
        await admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        await admin.close()
    print(f"machine speed probe after: {machine_speed():.0f} µs")
    print(f"targets (all stored, rates as above): {'missed' if missed else 'met'}")
    return 1 if missed else 0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 if the target is missed or an event is lost."""
    parser = argparse.ArgumentParser(prog="python -m bench.sensor_events")
    parser.add_argument("--events", type=int, default=20000, help="events of a batch phase")
    parser.add_argument("--single-events", type=int, default=2000, help="one-event phases")
    parser.add_argument("--batch", type=int, default=100, help="events a gateway batch")
    parser.add_argument("--warmup", type=int, default=5000, help="events sent before measuring")
    parser.add_argument("--berths", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1, help="centre worker processes")
    parser.add_argument("--skip-mqtt", default="", choices=["", "mqtt"], help="'mqtt' skips it")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
