"""CPU a lane read costs the centre, without HTTP: `python -m bench.lane_cpu`.

Entries, then their exits (two hours later, so each prices, closes and posts a charge), go
through `core.services.lanes.on_lane_read` one after another on a fresh PostgreSQL database,
in this process. Printed: process CPU and wall time a read, the statements a read sent through
SQLAlchemy's execution layer (the driver path of core/store/driver_sql.py sends the rest), and
the machine speed probe, since this machine's speed moves by more than half between runs.

Plates are random by default, as in bench.lane_exit: real plates in a lot are unrelated, while
sequential ones (`--plates sequential`, the bench's plates before issue 20) are all within a
character or two of each other, so the exit's fuzzy match finds every car of the lot a
candidate and each exit loads the whole lot. It runs as `parking serve` runs the centre
(uvloop, the collector thresholds of server.workers); `--loop asyncio` is plain asyncio.run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event

from bench._lane_centre import drop, lot_code, prepare
from bench._server import machine_speed
from bench.lane_exit import PLATE_CHARACTERS

LOTS = 20
WARM_UP = 20  # pairs of reads before measuring: caches, pools, prepared statements


async def run(args: argparse.Namespace) -> int:
    from core.clock import SystemClock
    from core.lane_events import LaneRead
    from core.services import lanes
    from core.services.calendar import OverridableCalendar, refresh_calendar
    from core.store.database import open_database
    from core.store.unit_of_work import UnitOfWork
    from device_bridge.formats import lane_json

    speed = machine_speed()
    database = f"parking_bench_cpu_{os.getpid()}"
    store = open_database(await prepare(database, LOTS))
    statements, failures = [0], 0

    def count(*_: Any) -> None:
        statements[0] += 1

    event.listen(store.engine.sync_engine, "before_cursor_execute", count)
    calendar = OverridableCalendar()
    async with UnitOfWork(store.sessions) as uow:
        await refresh_calendar(uow, calendar)
    clock, now = SystemClock(), datetime.now(UTC)
    plates = _plates(args.plates, 50_000 + WARM_UP)

    def read(n: int, direction: str) -> LaneRead:
        plate = plates[n]
        lane = "E1" if direction == "entry" else "X1"
        at = now - timedelta(hours=2) if direction == "entry" else now
        body = {
            "event_id": f"{plate}-{direction}",
            "device": f"{lot_code(n % LOTS)}-{lane}-anpr_camera",
            "device_time": at.isoformat(),
            "plate": plate,
            "confidence": 97,
        }
        return lane_json.to_read(lane_json.LaneReadPayload.model_validate(body))

    async def apply(one: LaneRead) -> str:
        async with UnitOfWork(store.sessions) as uow:
            outcome = await lanes.on_lane_read(uow, clock, calendar, one)
        return outcome.decision.action.value if outcome.decision else outcome.outcome

    try:
        for n in range(50_000, 50_000 + WARM_UP):
            await apply(read(n, "entry"))
            await apply(read(n, "exit"))
        for direction, expected in (("entry", "open"), ("exit", "pay")):
            reads = [read(n, direction) for n in range(args.reads)]
            statements[0] = 0
            cpu, wall = time.process_time(), time.perf_counter()
            actions = [await apply(one) for one in reads]
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            wrong = sum(action != expected for action in actions)
            failures += wrong
            print(
                f"{direction}: CPU {1000 * cpu / args.reads:.2f} ms a read, wall "
                f"{1000 * wall / args.reads:.2f} ms, {statements[0] / args.reads:.1f} statements "
                f"through SQLAlchemy a read; not '{expected}': {wrong}"
            )
    finally:
        await store.dispose()
        await drop(database)
    print(f"machine speed probe: {speed:.0f} µs before, {machine_speed():.0f} µs after")
    return 1 if failures else 0


def _plates(kind: str, count: int) -> list[str]:
    """The n-th car's plate: 浙A and five characters, sequential or random (unique, seeded)."""
    if kind == "sequential":
        return [f"浙A{n:05d}" for n in range(count)]
    rng, seen = random.Random(1), set[str]()
    while len(seen) < count:
        seen.add("浙A" + "".join(rng.choices(PLATE_CHARACTERS, k=5)))
    return rng.sample(sorted(seen), count)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 if a read was not decided as expected."""
    from server.workers import collect_rarely, new_event_loop

    parser = argparse.ArgumentParser(prog="python -m bench.lane_cpu")
    parser.add_argument("--reads", type=int, default=300, help="entries, then as many exits")
    parser.add_argument("--plates", choices=["random", "sequential"], default="random")
    parser.add_argument(
        "--loop",
        choices=["serve", "asyncio"],
        default="serve",
        help="as `parking serve` (uvloop, its collector thresholds) or plain asyncio.run",
    )
    args = parser.parse_args(argv)
    if args.loop == "asyncio":
        return asyncio.run(run(args))
    collect_rarely()  # as `parking serve` runs the centre: uvloop, the collector's thresholds
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
