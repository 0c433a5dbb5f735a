"""Benchmark networked lots at peak: `python -m bench.network`.

`--lots` third-party lots (sandbox/network_lot.py, each signing with its own key) push their free
count every `--count-every` seconds, staggered, and entries and exits at `--events-per-minute`
each, for `--seconds`. The centre runs in its own process on a fresh PostgreSQL database. Each
lot sends its messages one after another on its schedule, as a lot's system does; a lot falls
behind when an answer comes after its next message was due. Printed: requests/s achieved and
scheduled, latency percentiles per kind, the worst lag behind the schedule, and errors.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp

from bench._lane_centre import demo_city_database, drop, percentile, start_centre
from bench._server import cpu_seconds, free_port, machine_speed, wait_up
from sandbox.network_lot import ThirdPartyLot


@dataclass
class Tally:
    """What the run measured."""

    latency: dict[str, list[float]] = field(default_factory=dict)
    lag: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)


async def prepare(database: str, lots: int) -> tuple[str, list[tuple[str, str]]]:
    """A fresh database with the demo city and `lots` registered networked lots."""
    from config.settings import Settings
    from core.clock import SystemClock
    from core.services.network_lots import LotRegistration, register_lot
    from core.store.unit_of_work import UnitOfWork

    url, store = await demo_city_database(database)
    secret = Settings().secret_key.get_secret_value()  # the centre reads the same settings
    gate = asyncio.Semaphore(16)

    async def join(n: int) -> tuple[str, str]:
        lot = LotRegistration(
            code=f"NET-B{n:03d}",
            name=f"联网压测停车场{n}",
            kind="public",
            district="D-HAISHU",
            operator_code=f"OP-NET{n:03d}",
            operator_name=f"联网运营方{n}",
            sub_mchid=f"18{n:08d}",
            address="宁波市海曙区",
            lat=29.80 + n * 0.0005,
            lng=121.50 + n * 0.0005,
            berths=400,
            opening_hours="00:00-24:00",
            vendor="bench",
            contact="bench",
            tariff_summary="每小时3元",
        )
        async with gate, UnitOfWork(store.sessions) as uow:
            issued = await register_lot(uow, SystemClock(), secret, "bench", lot)
        return issued.app_id, issued.key.secret

    credentials = list(await asyncio.gather(*(join(n) for n in range(lots))))
    await store.dispose()
    return url, credentials


async def _timed(tally: Tally, kind: str, call: asyncio.Future[object] | object) -> None:
    began = time.perf_counter()
    try:
        answer = await call  # type: ignore[misc]
        code = f":{answer.body.get('code')}" if answer.status != 200 else ""
        tally.statuses[f"{kind}:{answer.status}{code}"] += 1
    except aiohttp.ClientError as exc:
        tally.statuses[f"{kind}:{type(exc).__name__}"] += 1
    tally.latency.setdefault(kind, []).append(time.perf_counter() - began)


async def drive_lot(
    lot: ThirdPartyLot, n: int, args: argparse.Namespace, tally: Tally, start: float
) -> None:
    """One lot's day at peak: counts on a fixed beat, entries and exits between them."""
    rng = random.Random(n)
    plan: list[tuple[float, str]] = []
    offset = rng.uniform(0, args.count_every)
    plan += [
        (offset + k * args.count_every, "count")
        for k in range(int(args.seconds // args.count_every) + 1)
    ]
    gap = 60.0 / args.events_per_minute
    moment = rng.uniform(0, gap)
    while moment < args.seconds:
        plan.append((moment, "event"))
        moment += rng.expovariate(1 / gap)
    plan = sorted(p for p in plan if p[0] < args.seconds)
    parked: list[tuple[str, str, datetime]] = []
    for sent, (due, kind) in enumerate(plan, 1):
        wait = start + due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        else:
            tally.lag.append(-wait)
        now = datetime.now(UTC)
        if kind == "count":
            call = lot.count(f"c-{n}-{sent}", 400, rng.randint(0, 400), now)
        elif parked and (len(parked) > 20 or rng.random() < 0.5):
            session, plate, entered = parked.pop(0)
            fee = rng.choice((0, 300, 600, 900))
            call = lot.exit(
                f"o-{n}-{sent}", session, plate, entered, now, fee, fee if rng.random() < 0.8 else 0
            )
            kind = "exit"
        else:
            session, plate = f"S{n}-{sent}", f"浙B{n % 10}{sent % 10000:04d}"
            parked.append((session, plate, now - timedelta(minutes=1)))
            call = lot.entry(f"i-{n}-{sent}", session, plate, now - timedelta(minutes=1))
            kind = "entry"
        await _timed(tally, kind, call)


async def run(args: argparse.Namespace) -> int:
    database = f"parking_bench_network_{os.getpid()}"
    speed = machine_speed()
    began_prepare = time.perf_counter()
    url, credentials = await prepare(database, args.lots)
    prepared = time.perf_counter() - began_prepare
    port = free_port()
    server = start_centre(url, port, args.workers)
    base = f"http://127.0.0.1:{port}"
    tally = Tally()
    try:
        await wait_up(base, args.workers)
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            lots = [ThirdPartyLot(session, base, app_id, key) for app_id, key in credentials]
            start = time.perf_counter() + 1.0
            cpu_before = cpu_seconds(server.pid)
            await asyncio.gather(
                *(drive_lot(lot, n, args, tally, start) for n, lot in enumerate(lots))
            )
            elapsed = time.perf_counter() - start
            cpu_used = cpu_seconds(server.pid) - cpu_before
    finally:
        server.terminate()
        server.wait(60)
        await drop(database)
    total = sum(tally.statuses.values())
    scheduled = args.lots * (1 / args.count_every + args.events_per_minute / 60)
    print(
        f"{args.lots} lots, counts every {args.count_every:g} s, {args.events_per_minute:g} "
        f"events/min each, {args.seconds:g} s, {args.workers} worker(s); {args.lots} lots "
        f"registered in {prepared:.1f} s"
    )
    rate = total / elapsed
    print(f"{total} requests in {elapsed:.1f} s = {rate:,.0f} req/s (scheduled {scheduled:,.0f}/s)")
    print(f"centre CPU {cpu_used:.1f} s = {cpu_used / total * 1000:.1f} ms a request")
    for kind, values in sorted(tally.latency.items()):
        p50, p95, p99 = (percentile(values, q) * 1000 for q in (0.5, 0.95, 0.99))
        print(
            f"  {kind:6} n={len(values):6} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  p99 {p99:6.1f} ms"
        )
    late = tally.lag
    worst = max(late, default=0.0)
    print(f"messages sent after their time: {len(late)}, worst lag {worst:.2f} s")
    print("statuses:", dict(sorted(tally.statuses.items())))
    print(f"machine speed probe: {speed:.0f} µs before, {machine_speed():.0f} µs after")
    failed = any(not key.endswith(":200") for key in tally.statuses)
    return 1 if failed or worst > args.count_every else 0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 on any non-200 answer or a lag longer than the count beat."""
    parser = argparse.ArgumentParser(prog="python -m bench.network")
    parser.add_argument("--lots", type=int, default=500)
    parser.add_argument("--count-every", type=float, default=10.0)
    parser.add_argument("--events-per-minute", type=float, default=4.0, help="per lot, at peak")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=1)
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
