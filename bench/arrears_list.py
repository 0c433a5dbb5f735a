"""Benchmark the officer's arrears list over 1,000,000 arrears rows: `python -m bench.arrears_list`.

Target (PRODUCT.md): the first page of an officer's arrears list over 1,000,000 arrears rows in
under 100 ms. A PostgreSQL database gets the demo city, 50 more zones of 400 berths on 10 streets
each, `--unpaid` closed unpaid street stays over the past year (fees 1 to 50 yuan) and `--paid`
paid ones (each with its settling payment), then ANALYZE. Each list the console asks for (oldest
or largest first, by zone, street, age and amount, an officer's district, the next page, a
plate) is read through `ArrearsRepository` `--rounds` times; the bench prints p50/p99 and the
ratio of p99 to a `SELECT 1` round trip measured in the same run, and to the target.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from bench._lane_centre import ADMIN_URL, drop, percentile, prepare
from bench._server import machine_speed

TARGET_MS = 100.0

CITY = """
INSERT INTO zones (code, name, zone_class, district_id, operator_id, tariff_code)
SELECT 'Z' || lpad(z::text, 3, '0'), '压测片区' || z, 1 + z % 3,
       (SELECT id FROM districts ORDER BY id LIMIT 1 OFFSET z % 2),
       (SELECT operator_id FROM zones WHERE code = 'HS1'),
       (SELECT tariff_code FROM zones WHERE code = 'HS1')
FROM generate_series(1, 50) AS z;

INSERT INTO berths (code, zone_id, street, lat, lng, closed)
SELECT zones.code || '-' || lpad(b::text, 3, '0'), zones.id,
       zones.code || '路' || (b % 10), 29.87, 121.55, false
FROM zones, generate_series(1, 400) AS b
WHERE zones.code LIKE 'Z%';

CREATE TEMP TABLE bench_berths AS
SELECT row_number() OVER (ORDER BY id) - 1 AS n, id, zone_id FROM berths WHERE code LIKE 'Z%';

INSERT INTO stays (ref, plate, operator_id, zone_id, berth_id, vehicle_class, status,
                   entered_at, exited_at, fee_fen, tariff_code, tariff_version)
SELECT 'arr' || s,
       '浙' || substr('ABCDEFGHJK', 1 + s % 10, 1) || lpad((s % 99991)::text, 5, '0'),
       zones.operator_id, b.zone_id, b.id, 'small', 'closed',
       now() - (s % 525600) * interval '1 minute' - interval '2 hours',
       now() - (s % 525600) * interval '1 minute',
       100 + (s::bigint * 7919) % 4900, zones.tariff_code, 1
FROM generate_series(1, $1::int + $2::int) AS s
JOIN bench_berths AS b ON b.n = s % 20000
JOIN zones ON zones.id = b.zone_id;

INSERT INTO payments (out_trade_no, channel, purpose, stay_ref, settled_stay_ref, plate,
                      operator_code, sub_mchid, appid, payer_openid, amount_fen, status,
                      transaction_id, created_at, paid_at, refunded_fen, version)
SELECT 'PKARR' || s, 'wechat_jsapi', 'stay', stays.ref, stays.ref, stays.plate, ops.code,
       ops.sub_mchid, 'wx-bench', 'o-bench', stays.fee_fen, 'paid', 'T' || s,
       stays.exited_at, stays.exited_at, 0, 1
FROM generate_series($1::int + 1, $1::int + $2::int) AS s
JOIN stays ON stays.ref = 'arr' || s
JOIN operators AS ops ON ops.id = stays.operator_id;
"""


async def load(url: str, unpaid: int, paid: int) -> None:
    """Add the zones, berths, stays and payments, then statistics."""
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        async with connection.transaction():
            for statement in CITY.split(";\n"):
                if statement.strip():
                    args = (unpaid, paid) if "$1" in statement else ()
                    await connection.execute(statement, *args)
        await connection.execute("ANALYZE")
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()


async def timed(rounds: int, step: Callable[[], Awaitable[object]]) -> list[float]:
    """Milliseconds of each of `rounds` calls, after one warm-up."""
    await step()
    spent = []
    for _ in range(rounds):
        start = time.perf_counter()
        await step()
        spent.append((time.perf_counter() - start) * 1000)
    return spent


async def measure(url: str, rounds: int) -> list[tuple[str, list[float]]]:
    """Time each list the console asks for, and the round-trip baseline."""
    from sqlalchemy import text

    from core.arrears import ArrearsFilter, ArrearsOrder
    from core.staff import Scope
    from core.store.database import open_database
    from core.store.unit_of_work import UnitOfWork

    store = open_database(url)
    city, haishu = Scope(), Scope(districts=frozenset({"D-HAISHU"}))
    now = datetime.now(UTC)
    results: list[tuple[str, list[float]]] = []
    try:
        async with UnitOfWork(store.sessions, read_only=True) as uow:
            first = await uow.arrears.page(ArrearsFilter(), city)
            cursor = first[-1].cursor(ArrearsOrder.OLDEST)
            plate = first[0].plate
            lists: list[tuple[str, ArrearsFilter, Scope]] = [
                ("oldest first, city-wide", ArrearsFilter(), city),
                ("largest first, city-wide", ArrearsFilter(order=ArrearsOrder.LARGEST), city),
                ("one zone, oldest", ArrearsFilter(zone="Z017"), city),
                (
                    "one zone, largest",
                    ArrearsFilter(zone="Z017", order=ArrearsOrder.LARGEST),
                    city,
                ),
                ("one street, oldest", ArrearsFilter(street="Z017路3"), city),
                (
                    "one street, largest",
                    ArrearsFilter(street="Z017路3", order=ArrearsOrder.LARGEST),
                    city,
                ),
                (
                    "30+ days, 20+ yuan, largest",
                    ArrearsFilter(
                        min_fen=2000,
                        left_before=now - timedelta(days=30),
                        order=ArrearsOrder.LARGEST,
                    ),
                    city,
                ),
                ("officer's district, oldest", ArrearsFilter(), haishu),
                ("next page, oldest", ArrearsFilter(after=cursor), city),
            ]
            for name, wanted, scope in lists:
                page = functools.partial(uow.arrears.page, wanted, scope)
                results.append((name, await timed(rounds, page)))
            results.append(
                ("a plate's file", await timed(rounds, lambda: uow.arrears.of_plate(plate, city)))
            )
            baseline = await timed(rounds, lambda: uow.session.execute(text("SELECT 1")))
            results.append(("baseline: SELECT 1", baseline))
    finally:
        await store.dispose()
    return results


async def run(args: argparse.Namespace) -> int:
    database = args.database or f"bench_arrears_{uuid.uuid4().hex[:8]}"
    if args.database:  # one kept by --keep: measure again without loading
        url = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        url = f"{url}/{database}"
    else:
        url = await prepare(database, 0)
    try:
        if not args.database:
            start = time.perf_counter()
            await load(url, args.unpaid, args.paid)
            print(
                f"loaded {args.unpaid:,} unpaid and {args.paid:,} paid street stays over 20,000"
                f" berths in {time.perf_counter() - start:.1f} s into {database}",
                flush=True,
            )
        probe = machine_speed()
        results = await measure(url, args.rounds)
        print(f"machine speed probe: {probe:.0f} µs before, {machine_speed():.0f} µs after")
        report(results)
    finally:
        if not (args.keep or args.database):
            await drop(database)
    return 0


def report(results: list[tuple[str, list[float]]]) -> None:
    """Print each list's percentiles, their ratio to the baseline, and the worst to the target."""
    baseline = percentile(results[-1][1], 0.99)
    worst = 0.0
    for name, spent in results:
        p50, p99 = percentile(spent, 0.5), percentile(spent, 0.99)
        if not name.startswith("baseline"):
            worst = max(worst, p99)
        ratio = p99 / baseline
        print(f"{name:32} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  p99/baseline {ratio:6.1f}")
    print(f"worst first-page p99 / target {TARGET_MS:.0f} ms = {worst / TARGET_MS:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unpaid", type=int, default=1_000_000)
    parser.add_argument("--paid", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--database", help="measure a database kept by --keep again")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
