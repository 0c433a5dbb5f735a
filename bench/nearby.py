"""Benchmark spaces near me and a read endpoint's throughput: `python -m bench.nearby`.

Targets (PRODUCT.md): "spaces near me" over 100,000 berths in 2,000 lots answers in under
30 ms p99; a read endpoint serves at least half the requests a second of a bare aiohttp JSON
handler on the same machine. A fresh SQLite database gets the demo city plus `--lots` lots of
`--berths-per-lot` berths (GCJ-02 points spread over 20 x 20 km around Ningbo) and open stays
in a fifth of their spaces. The app runs in its own process as `parking serve` runs it (one
worker, uvloop), once on SQL only and once with Redis GEO (`REDIS_URL`); this process asks
`GET /mp/spaces/near` at random points one at a time and prints p50/p99. Then, with
`--concurrency` requests in flight, it measures a bare aiohttp handler answering a constant
JSON body (baseline, its own process, uvloop too), and for each of SQL and Redis the requests
a second and p99 of `GET /mp/spaces/near` at the same random points (target 1,000 answers a
second, p99 under 30 ms) and of `GET /mp/availability?zone=HS1` (the live counts guidance
screens and the map poll), of `GET /mp/plates/{plate}/stays` (a plate with nothing due; the
pay-for-a-plate view) and of `GET /mp/me/stays` (a verified driver's page of 20 ended stays),
each read endpoint's target half the baseline and p99 under 10 ms, with the ratios and the
machine speed probe.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from bench._server import machine_speed, start_server, wait_up

LATENCY_TARGET_MS = 30.0
RATIO_TARGET = 0.5
READ_P99_TARGET_MS = 10.0  # a read endpoint's p99 at --concurrency in flight
READ_PLATE = "浙B00001"  # a plate's stays: one with nothing due, the common answer
DRIVER_PLATE = "浙B00002"  # a driver's stays: the verified plate of the bench's driver
DRIVER_HISTORY = 20  # its ended stays, paid: one full page of GET /mp/me/stays
SECRET = "bench-nearby-secret-key-not-for-production"
NEAR_RATE_TARGET = 1000.0  # answers a second, one worker, at --concurrency in flight
CENTER = (29.8683, 121.5440)
SPREAD_DEG = 0.09  # about 10 km each way

BARE = """
import sys
import uvloop
from aiohttp import web
BODY = {"coordinate_system": "GCJ-02", "places": [{"code": "LOT-1", "free": 12}]}
async def handle(request):
    return web.json_response(BODY)
app = web.Application()
app.router.add_get("/bare", handle)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None,
            loop=uvloop.new_event_loop())
"""


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def build_database(path: str, lots: int, per_lot: int) -> int:
    """Migrate, load the demo city, add the generated lots, berths and open stays, and a
    driver with a verified plate and a page of ended stays; the driver's id."""
    from sqlalchemy import insert, select

    from core.clock import FrozenClock
    from core.store import migration
    from core.store.activity import StayRow
    from core.store.city import BerthRow, DistrictRow, LotRow, OperatorRow
    from core.store.database import open_database
    from core.store.unit_of_work import UnitOfWork
    from sandbox.demo_city import load_demo_city

    database = open_database(f"sqlite+aiosqlite:///{path}")
    now = datetime.now(UTC)
    rng = random.Random(7)
    try:
        async with database.engine.begin() as connection:
            await migration.upgrade_connection(connection)
        async with UnitOfWork(database.sessions) as uow:
            await load_demo_city(uow, FrozenClock(now))
            await uow.commit()
        async with database.engine.begin() as connection:
            district = (await connection.execute(select(DistrictRow.id))).scalars().first()
            operator = (await connection.execute(select(OperatorRow.id))).scalars().first()
            lot_rows, berth_rows, stay_rows = [], [], []
            for n in range(lots):
                lat = CENTER[0] + rng.uniform(-SPREAD_DEG, SPREAD_DEG)
                lng = CENTER[1] + rng.uniform(-SPREAD_DEG, SPREAD_DEG)
                lot_rows.append(
                    {
                        "code": f"B-LOT-{n:04d}",
                        "name": f"基准停车场{n}",
                        "kind": "public",
                        "district_id": district,
                        "operator_id": operator,
                        "tariff_code": "lot-standard",
                        "capacity": per_lot,
                        "lat": round(lat, 6),
                        "lng": round(lng, 6),
                    }
                )
            await connection.execute(insert(LotRow), lot_rows)
            ids = dict((await connection.execute(select(LotRow.code, LotRow.id))).tuples().all())
            for row in lot_rows:
                lot_id = ids[str(row["code"])]
                for b in range(per_lot):
                    berth_rows.append(
                        {
                            "code": f"{row['code']}-{b:03d}",
                            "lot_id": lot_id,
                            "lat": row["lat"],
                            "lng": row["lng"],
                            "closed": False,
                        }
                    )
                for _ in range(per_lot // 5):
                    stay_rows.append(
                        {
                            "ref": uuid.uuid4().hex[:20],
                            "plate": "浙B12345",
                            "operator_id": operator,
                            "lot_id": lot_id,
                            "status": "open",
                            "vehicle_class": "small",
                            "entered_at": now,
                        }
                    )
            for start in range(0, len(berth_rows), 10_000):
                await connection.execute(insert(BerthRow), berth_rows[start : start + 10_000])
            for start in range(0, len(stay_rows), 10_000):
                await connection.execute(insert(StayRow), stay_rows[start : start + 10_000])
            return await _add_driver(connection, operator, ids[str(lot_rows[0]["code"])], now)
    finally:
        await database.dispose()


async def _add_driver(connection: Any, operator: int | None, lot_id: int, now: datetime) -> int:
    """A driver whose binding of DRIVER_PLATE is verified, with DRIVER_HISTORY paid lot stays."""
    from datetime import timedelta

    from sqlalchemy import insert

    from core.store.activity import StayRow
    from core.store.lots import LotStayRow
    from core.store.people import DriverRow, VehicleBindingRow, VehicleRow

    driver = (
        await connection.execute(
            insert(DriverRow).values(unionid="bench-driver", created_at=now).returning(DriverRow.id)
        )
    ).scalar_one()
    vehicle = (
        await connection.execute(
            insert(VehicleRow)
            .values(plate=DRIVER_PLATE, plate_colour="BLUE")
            .returning(VehicleRow.id)
        )
    ).scalar_one()
    await connection.execute(
        insert(VehicleBindingRow).values(
            driver_id=driver,
            vehicle_id=vehicle,
            created_at=now,
            verified_at=now,
            verified_by="licence",
        )
    )
    for n in range(DRIVER_HISTORY):
        entered = now - timedelta(days=n + 1, hours=2)
        stay = (
            await connection.execute(
                insert(StayRow)
                .values(
                    ref=uuid.uuid4().hex[:20],
                    plate=DRIVER_PLATE,
                    operator_id=operator,
                    lot_id=lot_id,
                    status="closed",
                    vehicle_class="small",
                    entered_at=entered,
                    exited_at=entered + timedelta(hours=2),
                    fee_fen=1000,
                )
                .returning(StayRow.id)
            )
        ).scalar_one()
        await connection.execute(
            insert(LotStayRow).values(stay_id=stay, access="temporary", paid_fen=1000)
        )
    return int(driver)


def centre(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """The app as `parking serve` runs it (one worker, uvloop); returns once it answers."""
    process = start_server(port, env)
    try:
        asyncio.run(wait_up(f"http://127.0.0.1:{port}"))
    except BaseException:
        process.kill()
        raise
    return process


def start(code: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A server process; returns once it accepts connections."""
    process = subprocess.Popen([sys.executable, "-c", code, str(port)], env=env)
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


def points(n: int) -> list[dict[str, str]]:
    """Random query points inside the generated area."""
    rng = random.Random(11)
    return [
        {
            "lat": f"{CENTER[0] + rng.uniform(-SPREAD_DEG, SPREAD_DEG):.6f}",
            "lng": f"{CENTER[1] + rng.uniform(-SPREAD_DEG, SPREAD_DEG):.6f}",
            "radius_m": "2000",
            "limit": "20",
        }
        for _ in range(n)
    ]


async def latencies(base: str, queries: list[dict[str, str]]) -> tuple[list[float], int]:
    """Milliseconds per request, one at a time, and the places found in all."""
    found, took = 0, []
    async with aiohttp.ClientSession() as session:
        for query in queries[:20]:  # warm up
            async with session.get(f"{base}/mp/spaces/near", params=query) as response:
                await response.read()
        for query in queries:
            begun = time.perf_counter()
            async with session.get(f"{base}/mp/spaces/near", params=query) as response:
                body: Any = await response.json()
                assert response.status == 200, body
            took.append((time.perf_counter() - begun) * 1000)
            found += len(body["places"])
    return took, found


async def throughput(
    url: str,
    params: list[dict[str, str]],
    total: int,
    concurrency: int,
    headers: dict[str, str] | None = None,
) -> tuple[float, float, int]:
    """Requests a second with `concurrency` in flight, `total` requests in all (the n-th with
    the n-th of `params`, round), the p99 latency in ms under that load, and how many were
    not answered 200."""
    queue = iter(range(total))
    took: list[float] = []
    failed = [0]
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker() -> None:
            for n in queue:
                begun = time.perf_counter()
                async with session.get(url, params=params[n % len(params)]) as response:
                    body = await response.read()
                    failed[0] += response.status != 200
                    if response.status != 200 and failed[0] == 1:
                        print(f"first not 200: {response.status} {body[:200]!r}", flush=True)
                took.append((time.perf_counter() - begun) * 1000)

        await asyncio.gather(*(worker() for _ in range(concurrency)))  # warm connections
        queue, took, failed[0] = iter(range(total)), [], 0
        begun = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return total / (time.perf_counter() - begun), percentile(took, 0.99), failed[0]


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of the values lie."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    """Build the data, run both backends and the throughput comparison, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, default=2000)
    parser.add_argument("--berths-per-lot", type=int, default=50)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
    )
    args = parser.parse_args(argv)
    speed = machine_speed()
    folder = tempfile.mkdtemp(prefix="bench-nearby-")
    path = os.path.join(folder, "parking.db")
    driver = asyncio.run(build_database(path, args.lots, args.berths_per_lot))
    print(f"data: {args.lots} lots, {args.lots * args.berths_per_lot} berths", flush=True)
    queries = points(args.queries)
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{path}",
        PARKING_SECRET_KEY=SECRET,
        PARKING_NOTICES_SEND_SECONDS="0",
        PARKING_PLATE_LOOKUP_RATE_PER_MINUTE="100000000",  # the bench is one client address
    )
    env.pop("REDIS_URL", None)
    prefix = f"bench:{os.getpid()}"  # its own keys: two benches may share the Redis
    redis = {
        "REDIS_URL": args.redis_url,
        "PARKING_NEARBY_REDIS_KEY": f"{prefix}:places",
        "PARKING_AVAILABILITY_REDIS_PREFIX": f"{prefix}:avail",
    }
    try:
        ok = _measure(args, env, redis, queries, _driver_headers(driver))
    finally:
        asyncio.run(_forget(args.redis_url, prefix))
    print(f"machine speed probe: {speed:.0f} µs before, {machine_speed():.0f} µs after")
    return 0 if ok else 1


def _driver_headers(driver: int) -> dict[str, str]:
    """The driver's session token, signed as the mini-program's sign-in signs it."""
    from core import driver_tokens

    token = driver_tokens.issue(driver, datetime.now(UTC), 24 * 60, SECRET).token
    return {"Authorization": f"Bearer {token}"}


async def _forget(url: str, prefix: str) -> None:
    client = aioredis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def _measure(
    args: argparse.Namespace,
    env: dict[str, str],
    redis: dict[str, str],
    queries: list[dict[str, str]],
    driver: dict[str, str],
) -> bool:
    """Latency one at a time, then throughput at --concurrency; True when every target is met."""
    ok = True
    for name, extra in (
        ("sql", {}),
        ("redis", redis),
    ):
        port = _port()
        server = centre(port, env | extra)
        try:
            took, found = asyncio.run(latencies(f"http://127.0.0.1:{port}", queries))
        finally:
            server.terminate()
            server.wait()
        p50, p99 = percentile(took, 0.5), percentile(took, 0.99)
        ok &= p99 < LATENCY_TARGET_MS
        print(
            f"spaces near me [{name}]: {len(took)} requests, p50 {p50:.1f} ms, p99 {p99:.1f} ms "
            f"(target < {LATENCY_TARGET_MS:.0f} ms), {found / len(took):.1f} places per answer",
            flush=True,
        )
    port, bare_port = _port(), _port()
    bare = start(BARE, bare_port, env)
    try:
        baseline, bare_p99, _ = asyncio.run(
            throughput(f"http://127.0.0.1:{bare_port}/bare", [{}], args.requests, args.concurrency)
        )
        print(f"bare aiohttp JSON handler: {baseline:.0f} req/s, p99 {bare_p99:.1f} ms", flush=True)
        for name, extra in (("sql", {}), ("redis", redis)):
            server = centre(port, env | extra)
            try:
                nothing: list[dict[str, str]] = [{}]
                cases: list[tuple[str, str, list[dict[str, str]], dict[str, str]]] = [
                    ("near me", "/mp/spaces/near", queries, {}),
                    ("availability", "/mp/availability", [{"zone": "HS1"}], {}),
                    ("plate's stays", f"/mp/plates/{READ_PLATE}/stays", nothing, {}),
                    ("driver's stays", "/mp/me/stays", nothing, driver),
                ]
                for label, path, params, headers in cases:
                    url = f"http://127.0.0.1:{port}{path}"
                    rate, p99, failed = asyncio.run(
                        throughput(url, params, args.requests, args.concurrency, headers)
                    )
                    if label == "near me":
                        ok &= rate >= NEAR_RATE_TARGET and p99 < LATENCY_TARGET_MS
                    else:
                        ok &= rate / baseline >= RATIO_TARGET and p99 < READ_P99_TARGET_MS
                    ok &= not failed
                    print(
                        f"GET {path} [{name}] at {args.concurrency} in flight: {rate:.0f} req/s "
                        f"(ratio {rate / baseline:.2f}), p99 {p99:.1f} ms, not 200: {failed}",
                        flush=True,
                    )
            finally:
                server.terminate()
                server.wait()
    finally:
        bare.terminate()
        bare.wait()
    return ok


if __name__ == "__main__":
    sys.exit(main())
