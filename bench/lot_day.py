"""Benchmark a whole simulated day at the gates, compressed: `python -m bench.lot_day`.

The day comes from the simulator's seeded generator (`sandbox.traffic`, `parking simulate`):
`--cars` cars in each of `--lots` lots arrive by the hour profile and stay a log-normal dwell;
pass holders, misreads, duplicates, late reads and an offline camera included. The centre runs
in its own process on a fresh PostgreSQL database; each lot's reads are sent in the order the
day produced them, one at a time per lot, lots in parallel, as fast as the centre answers.
Printed: reads/s and stays closed per second for the whole day, and the compression (simulated
seconds per wall second), all measured in the run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import Counter
from datetime import date, timedelta

import aiohttp

from bench._lane_centre import drop, lot_code, prepare, start_centre
from bench._server import free_port, machine_speed, wait_up
from sandbox.traffic import DaySpec, LotSpec, SimEvent, generate_day


async def _drive(
    session: aiohttp.ClientSession, base: str, events: list[SimEvent], tally: Counter[str]
) -> None:
    for event in events:
        async with session.post(f"{base}/devices/lanes/reads", json=event.payload) as response:
            body = await response.json()
        if response.status != 200:
            tally[f"http_{response.status}"] += 1
            continue
        tally[f"{body['outcome']}/{body.get('action')}"] += 1
        exit_lane = event.device.endswith("-X1-anpr_camera")
        if exit_lane and body["outcome"] == "applied" and body.get("action") in ("open", "pay"):
            tally["stays_closed"] += 1


async def run(args: argparse.Namespace) -> int:
    speed = machine_speed()
    database = f"parking_bench_day_{os.getpid()}"
    url = await prepare(database, args.lots)
    lots = tuple(LotSpec(lot_code(n), args.cars) for n in range(args.lots))
    spec = DaySpec(day=date.today() - timedelta(days=1), lots=lots)
    events = generate_day(spec, args.seed)
    by_lot: dict[str, list[SimEvent]] = {}
    for event in events:
        by_lot.setdefault(event.device.rsplit("-", 2)[0], []).append(event)
    port = free_port()
    server = start_centre(url, port)
    base = f"http://127.0.0.1:{port}"
    tally: Counter[str] = Counter()
    try:
        await wait_up(base)
        began = time.perf_counter()
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(_drive(session, base, evs, tally) for evs in by_lot.values()))
        elapsed = time.perf_counter() - began
    finally:
        server.terminate()
        server.wait(60)
        await drop(database)
    span = (events[-1].send_at - events[0].send_at).total_seconds() if events else 0.0
    print(
        f"{args.lots} lots x {args.cars} cars, seed {args.seed}: {len(events)} reads "
        f"in {elapsed:.1f} s = {len(events) / elapsed:,.0f} reads/s"
    )
    print(
        f"stays closed at the exit: {tally['stays_closed']} = "
        f"{tally['stays_closed'] / elapsed:,.1f} stays/s; a {span / 3600:.1f} h day "
        f"compressed {span / elapsed:,.0f}x"
    )
    print("outcomes:", dict(sorted(tally.items())))
    print(f"machine speed probe: {speed:.0f} µs before, {machine_speed():.0f} µs after")
    return 1 if any(key.startswith("http_5") for key in tally) else 0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 if the centre failed a read (5xx)."""
    parser = argparse.ArgumentParser(prog="python -m bench.lot_day")
    parser.add_argument("--lots", type=int, default=8)
    parser.add_argument("--cars", type=int, default=250, help="cars per lot")
    parser.add_argument("--seed", type=int, default=1)
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
